/**
 * What "every event delivered, none lost, duplicates only as Standard Webhooks allows" means for one
 * endpoint, as checks on what its receiver got against the tenant's change feed, and on the service's
 * own account of the deliveries (MySQL rows, the dead-letter route).
 */
import { isDeepStrictEqual } from 'node:util';
import { expect } from 'chai';
import type { ServiceContext } from '../../src/context.js';
import type { FeedEvent } from './change-feed.js';
import { call } from './http.js';
import { verifiedPayload, type OutboundReceiver, type ReceivedRequest } from './outbound-receiver.js';
import { eventually } from './sync.js';

export interface DeliveryReport {
  events: number;
  requests: number;
  /** Requests beyond the first per event: retries under the same webhook-id. */
  repeats: number;
  /** Requests the receiver did not acknowledge (no answer, reset, 5xx). */
  unacknowledged: number;
}

/** Waits until the receiver acknowledged every event of `feed` at `path`. */
export async function waitUntilDelivered(receiver: OutboundReceiver, path: string, feed: FeedEvent[], timeoutMs: number): Promise<void> {
  const missing = () => {
    const acknowledged = new Set(receiver.acknowledged(path).map((r) => (JSON.parse(r.body) as { id: string }).id));
    return feed.filter((e) => !acknowledged.has(e.id)).length;
  };
  try {
    await eventually(() => missing() === 0, timeoutMs, `every event acknowledged at ${path}`);
  } catch (error) {
    throw new Error(`${(error as Error).message}: ${missing()} of ${feed.length} still missing`, { cause: error });
  }
}

/**
 * The receiver at `path` got exactly the events of `feed` (the tenant's feed since the endpoint was
 * created), each acknowledged at least once; every request signed with `secret` and carrying the event
 * as the feed serves it; each event under one webhook-id and each webhook-id one event; and, per record,
 * no request for a change before every earlier change of the record was acknowledged.
 */
export function expectFeedDelivered(receiver: OutboundReceiver, path: string, secret: string, feed: FeedEvent[]): DeliveryReport {
  const requests = receiver.at(path);
  const feedIndex = new Map(feed.map((e, i) => [e.id, i]));
  const idsOfEvent = new Map<string, Set<string>>();
  const eventsOfId = new Map<string, Set<string>>();
  const firstAcknowledged = new Map<string, number>();
  const eventOf = new Map<ReceivedRequest, FeedEvent>();
  for (const request of requests) {
    const payload = verifiedPayload(secret, request);
    const event = feed[feedIndex.get(String(payload.id)) ?? -1];
    expect(event, `${String(payload.id)} (${String(payload.type)}) is an event of the feed`).to.not.equal(undefined);
    expect(isDeepStrictEqual(payload, event), `${event!.id} delivered as the feed serves it`).to.equal(true);
    eventOf.set(request, event!);
    idsOfEvent.set(event!.id, (idsOfEvent.get(event!.id) ?? new Set()).add(request.webhookId));
    eventsOfId.set(request.webhookId, (eventsOfId.get(request.webhookId) ?? new Set()).add(event!.id));
    if (request.answered !== null && request.answered < 300 && !firstAcknowledged.has(event!.id)) firstAcknowledged.set(event!.id, request.seq);
  }
  expect(
    feed.filter((e) => !firstAcknowledged.has(e.id)).map((e) => `${e.id} ${e.type}`),
    'events never acknowledged',
  ).to.deep.equal([]);
  expect(
    [...idsOfEvent].filter(([, ids]) => ids.size > 1).map(([id, ids]) => `${id}: ${[...ids].join(', ')}`),
    'events sent under more than one webhook-id',
  ).to.deep.equal([]);
  expect(
    [...eventsOfId].filter(([, ids]) => ids.size > 1).map(([id, ids]) => `${id}: ${[...ids].join(', ')}`),
    'webhook-ids carrying more than one event',
  ).to.deep.equal([]);

  // Per record: a request for its n-th change comes only after changes 1..n-1 were each acknowledged.
  const earlierOfRecord = new Map<string, number>();
  const acknowledgedBefore = new Map<string, number>();
  for (const event of feed) {
    if (event.resource === null || event.record_id === null) continue;
    const record = `${event.resource}:${event.record_id}`;
    acknowledgedBefore.set(event.id, earlierOfRecord.get(record) ?? -1);
    earlierOfRecord.set(record, Math.max(earlierOfRecord.get(record) ?? -1, firstAcknowledged.get(event.id)!));
  }
  const outOfOrder = requests.filter((r) => r.seq < (acknowledgedBefore.get(eventOf.get(r)!.id) ?? -1)).map((r) => `${eventOf.get(r)!.type} ${eventOf.get(r)!.record_id} (${r.webhookId})`);
  expect(outOfOrder, 'changes sent before an earlier change of their record was acknowledged').to.deep.equal([]);

  return {
    events: feed.length,
    requests: requests.length,
    repeats: requests.length - idsOfEvent.size,
    unacknowledged: requests.filter((r) => r.answered === null || r.answered >= 300).length,
  };
}

/** Waits until the service accounts for one delivery per event, every one `delivered`; and the API serves no dead letter. */
export async function expectDeliveriesSettled(ctx: Pick<ServiceContext, 'db'>, baseUrl: string, apiKey: string, endpointId: number, events: number, timeoutMs: number): Promise<void> {
  const statuses = async () =>
    ctx.db
      .selectFrom('webhook_deliveries')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .where('endpoint_id', '=', endpointId)
      .groupBy('status')
      .execute();
  await eventually(
    async () =>
      isDeepStrictEqual(
        (await statuses()).map((s) => [s.status, Number(s.n)]),
        [['delivered', events]],
      ),
    timeoutMs,
    `endpoint ${endpointId}: ${events} deliveries delivered`,
  ).catch(async (error: Error) => {
    throw new Error(`${error.message}; by status: ${JSON.stringify(await statuses())}`, { cause: error });
  });
  const dead = await call(baseUrl, 'GET', `/api/webhook-endpoints/${endpointId}/dead-letters/`, { key: apiKey });
  expect(dead.status, dead.text).to.equal(200);
  expect(dead.body.data).to.deep.equal([]);
}
