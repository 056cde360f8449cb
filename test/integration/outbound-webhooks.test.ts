import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { checkEndpointUrl } from '../../src/outbound/endpoints.js';
import { deliveryJobId, outboundQueue } from '../../src/outbound/jobs.js';
import { startOutboundWorker } from '../../src/outbound/worker.js';
import { appendChangeEvents, lastSequencedPosition, sequenceChangeEvents, type NewChangeEvent } from '../../src/store/change-events.js';
import { putMapping } from '../../src/store/mappings.js';
import { startTestContext, type TestContext } from '../support/context.js';
import { call, expectProblem } from '../support/http.js';
import { eventually } from '../support/sync.js';

/** One request the receiver got. */
interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: any;
  status: number;
}

/** Answers a request to one path: the status to answer, given how often this message id came before. */
type Answer = (message: Received, earlierTries: number) => number;

/** A local webhook receiver: records every request and answers per path. */
class Receiver {
  readonly received: Received[] = [];
  private readonly answers = new Map<string, Answer>();
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const path = req.url ?? '/';
        const message: Received = { path, headers: req.headers, body, json: JSON.parse(body), status: 0 };
        const earlier = this.received.filter((r) => r.path === path && r.headers['webhook-id'] === req.headers['webhook-id']).length;
        message.status = (this.answers.get(path) ?? (() => 200))(message, earlier);
        this.received.push(message);
        res.writeHead(message.status, { 'content-type': 'text/plain' }).end(message.status < 300 ? 'thanks' : 'not now');
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  answer(path: string, answer: Answer): string {
    this.answers.set(path, answer);
    return `${this.url}${path}`;
  }

  at(path: string, ok = true): Received[] {
    return this.received.filter((r) => r.path === path && (!ok || r.status < 300));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const FAST = {
  OUTBOUND_ALLOW_PRIVATE_TARGETS: 'true',
  OUTBOUND_POLL_MS: '20',
  OUTBOUND_RETRY_SCHEDULE_MS: '100,100,100',
  OUTBOUND_REQUEUE_MS: '300',
  OUTBOUND_TIMEOUT_MS: '3000',
};

function productEvent(tenantId: string, id: number, title: string, type = 'product.updated'): NewChangeEvent {
  return { tenantId, integrationId: null, type, resource: 'products', recordKey: String(id), shopifyUpdatedAt: new Date(), data: { id, title } };
}

/** Appends events as a committed change would, and gives them feed positions (the sequencer's job). */
async function publish(t: TestContext, events: NewChangeEvent[]): Promise<void> {
  await appendChangeEvents(t.ctx.db, events);
  await sequenceChangeEvents(t.ctx.db);
}

async function createEndpoint(t: TestContext, key: string, body: Record<string, unknown>) {
  const res = await call(t.url, 'POST', '/api/webhook-endpoints/', { key, body });
  expect(res.status, res.text).to.equal(201);
  return res.body as { id: number; secret: string; url: string };
}

const verify = (secret: string, message: Received) =>
  new Webhook(secret).verify(message.body, {
    'webhook-id': String(message.headers['webhook-id']),
    'webhook-timestamp': String(message.headers['webhook-timestamp']),
    'webhook-signature': String(message.headers['webhook-signature']),
  });

/** Waits until the worker has recorded `count` attempts of the endpoint (it writes them after the receiver answered). */
async function attemptsRecorded(t: TestContext, endpointId: number, count: number): Promise<void> {
  const recorded = async () =>
    Number(
      (
        await t.ctx.db
          .selectFrom('webhook_delivery_attempts')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('endpoint_id', '=', endpointId)
          .executeTakeFirstOrThrow()
      ).n,
    );
  await eventually(async () => (await recorded()) >= count, 5000, `${count} recorded attempts`);
}

const deliveriesOf = (t: TestContext, endpointId: number) => t.ctx.db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', endpointId).orderBy('event_position').execute();

describe('outbound webhooks', function () {
  this.timeout(30_000);
  let t: TestContext;
  let receiver: Receiver;
  let stopWorker: () => Promise<void>;

  before(async () => {
    t = await startTestContext(FAST);
    receiver = new Receiver();
    await receiver.start();
    stopWorker = await startOutboundWorker(t.ctx);
  });
  after(async () => {
    await stopWorker?.();
    await receiver?.close();
    await t?.close();
  });

  it('when an event follows the endpoint, then it is delivered signed (verified with standardwebhooks) as a ChangeEvent, and earlier history is not', async () => {
    const key = await t.keyFor('tenant-basic');
    await publish(t, [productEvent('tenant-basic', 1, 'before the endpoint')]);
    const url = receiver.answer('/basic', () => 200);
    const created = await createEndpoint(t, key, { url, description: 'ERP' });
    expect(created.secret).to.match(/^whsec_/);
    expect(created).to.include({ url, enabled: true, use_mapping: false, event_types: null, description: 'ERP' });

    await publish(t, [productEvent('tenant-basic', 1, 'after the endpoint', 'product.created')]);
    await eventually(() => receiver.at('/basic').length === 1, 5000, 'the delivery');
    const [message] = receiver.at('/basic');
    const payload = verify(created.secret, message!) as Record<string, unknown>;
    expect(payload).to.include({ type: 'product.created', resource: 'products', record_id: '1' });
    expect(payload.id).to.match(/^evt_\d+$/);
    expect(payload.data).to.deep.equal({ id: 1, title: 'after the endpoint' });
    expect(payload).to.have.keys('id', 'type', 'occurred_at', 'updated_at', 'resource', 'record_id', 'data');
    expect(message!.headers['webhook-id']).to.match(/^msg_\d+$/);

    await attemptsRecorded(t, created.id, 1);
    const attempts = await call(t.url, 'GET', `/api/webhook-endpoints/${created.id}/attempts/`, { key });
    expect(attempts.status, attempts.text).to.equal(200);
    expect(attempts.body.data).to.have.length(1);
    expect(attempts.body.data[0]).to.include({ attempt: 1, ok: true, status_code: 200, error: null, event_id: payload.id, response_excerpt: 'thanks' });

    const read = await call(t.url, 'GET', `/api/webhook-endpoints/${created.id}/`, { key });
    expect(read.status, read.text).to.equal(200);
    expect(read.body).not.to.have.property('secret');
    const list = await call(t.url, 'GET', '/api/webhook-endpoints/', { key });
    expect(list.body.data.map((e: { id: number }) => e.id)).to.deep.equal([created.id]);
    expect(list.text + read.text + attempts.text + t.logs.text()).not.to.include(created.secret.slice(6));
    const row = await t.ctx.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.to.include(created.secret.slice(6));
  });

  it('when an endpoint names event types, then only those become deliveries', async () => {
    const key = await t.keyFor('tenant-types');
    const url = receiver.answer('/types', () => 200);
    const created = await createEndpoint(t, key, { url, event_types: ['product.created'] });
    await publish(t, [productEvent('tenant-types', 7, 'changed'), productEvent('tenant-types', 8, 'new', 'product.created'), productEvent('tenant-types', 9, 'changed')]);
    await eventually(() => receiver.at('/types').length === 1, 5000, 'the created event');
    expect(receiver.at('/types')[0]!.json).to.include({ type: 'product.created', record_id: '8' });
    const end = await lastSequencedPosition(t.ctx.db);
    await eventually(async () => (await t.ctx.db.selectFrom('webhook_endpoints').select('last_position').where('id', '=', created.id).executeTakeFirstOrThrow()).last_position >= end, 5000);
    expect((await deliveriesOf(t, created.id)).map((d) => d.event_type)).to.deep.equal(['product.created']);
  });

  it('when the receiver fails the first attempts of each message, then a record’s changes still arrive in order, each retried under the same webhook-id', async () => {
    const key = await t.keyFor('tenant-order');
    // Two failures, then success: each message takes three attempts (the schedule allows four).
    const url = receiver.answer('/order', (_message, earlier) => (earlier < 2 ? 503 : 200));
    const created = await createEndpoint(t, key, { url });
    await publish(
      t,
      [1, 2, 3, 4].map((v) => productEvent('tenant-order', 42, `v${v}`)),
    );
    await publish(t, [productEvent('tenant-order', 43, 'other record')]);
    await eventually(() => receiver.at('/order').length === 5, 15_000, 'every change delivered');

    const ofRecord = receiver.at('/order', false).filter((m) => m.json.record_id === '42');
    expect(ofRecord.filter((m) => m.status === 200).map((m) => m.json.data.title)).to.deep.equal(['v1', 'v2', 'v3', 'v4']);
    // No version is even tried before the one before it was delivered.
    expect(ofRecord.map((m) => m.json.data.title)).to.deep.equal(['v1', 'v1', 'v1', 'v2', 'v2', 'v2', 'v3', 'v3', 'v3', 'v4', 'v4', 'v4']);
    for (const title of ['v1', 'v2', 'v3', 'v4']) {
      const tries = ofRecord.filter((m) => m.json.data.title === title);
      expect(new Set(tries.map((m) => m.headers['webhook-id'])).size, title).to.equal(1);
      for (const attempt of tries) verify(created.secret, attempt);
    }
    await attemptsRecorded(t, created.id, 15);
    const attempts = await call(t.url, 'GET', `/api/webhook-endpoints/${created.id}/attempts/?limit=3`, { key });
    expect(attempts.status, attempts.text).to.equal(200);
    expect(attempts.body.data).to.have.length(3);
    expect(attempts.body.next_cursor).to.be.a('string');
    const next = await call(t.url, 'GET', `/api/webhook-endpoints/${created.id}/attempts/?limit=250&cursor=${attempts.body.next_cursor}`, { key });
    expect(next.body.data).to.have.length(12);
    const failed = next.body.data.find((a: { ok: boolean }) => !a.ok);
    expect(failed).to.include({ ok: false, status_code: 503, response_excerpt: 'not now' });
    expect(failed.error).to.match(/503/);
    // A success ends the failure (recorded just after the receiver's answer).
    await eventually(async () => (await call(t.url, 'GET', `/api/webhook-endpoints/${created.id}/`, { key })).body.failing_since === null, 5000, 'the endpoint healthy');
  });

  it('when every attempt fails, then the delivery is dead after the schedule, listed, and replayed on demand; later changes of the record are not held back by it', async () => {
    const key = await t.keyFor('tenant-dead');
    let healthy = false;
    const url = receiver.answer('/dead', () => (healthy ? 200 : 500));
    const created = await createEndpoint(t, key, { url });
    await publish(t, [productEvent('tenant-dead', 5, 'lost')]);
    await eventually(async () => (await deliveriesOf(t, created.id))[0]?.status === 'dead', 10_000, 'the dead letter');
    expect(receiver.at('/dead', false)).to.have.length(4);

    const dead = await call(t.url, 'GET', `/api/webhook-endpoints/${created.id}/dead-letters/`, { key });
    expect(dead.status, dead.text).to.equal(200);
    expect(dead.body.data).to.have.length(1);
    expect(dead.body.data[0]).to.include({ event_type: 'product.updated', resource: 'products', record_id: '5', attempts: 4 });
    expect(dead.body.data[0].last_error).to.match(/500/);
    const failing = await call(t.url, 'GET', `/api/webhook-endpoints/${created.id}/`, { key });
    expect(failing.body.failing_since).to.be.a('string');

    healthy = true;
    await publish(t, [productEvent('tenant-dead', 5, 'next version')]);
    await eventually(() => receiver.at('/dead').length === 1, 5000, 'the next version past the dead one');
    expect(receiver.at('/dead')[0]!.json.data.title).to.equal('next version');

    expectProblem(await call(t.url, 'POST', `/api/webhook-endpoints/${created.id}/dead-letters/replay/`, { key, body: {} }), 400);
    const replay = await call(t.url, 'POST', `/api/webhook-endpoints/${created.id}/dead-letters/replay/`, { key, body: { ids: [dead.body.data[0].id] } });
    expect(replay.status, replay.text).to.equal(200);
    expect(replay.body).to.deep.equal({ requeued: 1 });
    await eventually(() => receiver.at('/dead').length === 2, 5000, 'the replayed delivery');
    expect(receiver.at('/dead')[1]!.json.data.title).to.equal('lost');
    const after = await call(t.url, 'GET', `/api/webhook-endpoints/${created.id}/dead-letters/`, { key });
    expect(after.body.data).to.deep.equal([]);
    await eventually(async () => (await call(t.url, 'GET', `/api/webhook-endpoints/${created.id}/`, { key })).body.failing_since === null, 5000, 'the endpoint healthy');
  });

  it('when Redis loses a queued retry, then the re-queue pass finds the due delivery in MySQL and delivers it', async () => {
    const key = await t.keyFor('tenant-lost');
    const url = receiver.answer('/lost', (_message, earlier) => (earlier < 1 ? 503 : 200));
    const created = await createEndpoint(t, key, { url });
    await publish(t, [productEvent('tenant-lost', 11, 'retry me')]);
    await eventually(() => receiver.at('/lost', false).length === 1, 5000, 'the first attempt');
    const [delivery] = await deliveriesOf(t, created.id);
    await eventually(async () => (await outboundQueue(t.ctx).getJob(deliveryJobId(delivery!.id, 2))) !== undefined, 5000, 'the retry job');
    await (await outboundQueue(t.ctx).getJob(deliveryJobId(delivery!.id, 2)))!.remove();
    await eventually(() => receiver.at('/lost').length === 1, 8000, 'the delivery after the re-queue pass');
    expect(receiver.at('/lost', false).map((m) => m.headers['webhook-id'])).to.deep.equal([`msg_${delivery!.id}`, `msg_${delivery!.id}`]);
  });

  it('when the secret is rotated, then both secrets verify during the overlap and only the new one without it', async () => {
    const key = await t.keyFor('tenant-rotate');
    const url = receiver.answer('/rotate', () => 200);
    const created = await createEndpoint(t, key, { url });
    const rotated = await call(t.url, 'POST', `/api/webhook-endpoints/${created.id}/rotate-secret/`, { key, body: { overlap_hours: 2 } });
    expect(rotated.status, rotated.text).to.equal(200);
    expect(rotated.body.secret)
      .to.match(/^whsec_/)
      .and.not.equal(created.secret);
    expect(Date.parse(rotated.body.previous_secret_expires_at) - Date.now()).to.be.within(7_100_000, 7_200_000);

    await publish(t, [productEvent('tenant-rotate', 1, 'during the overlap')]);
    await eventually(() => receiver.at('/rotate').length === 1, 5000);
    const overlapping = receiver.at('/rotate')[0]!;
    expect(String(overlapping.headers['webhook-signature']).split(' ')).to.have.length(2);
    verify(created.secret, overlapping);
    verify(rotated.body.secret, overlapping);

    const again = await call(t.url, 'POST', `/api/webhook-endpoints/${created.id}/rotate-secret/`, { key, body: { overlap_hours: 0 } });
    expect(again.status, again.text).to.equal(200);
    expect(again.body.previous_secret_expires_at).to.equal(null);
    await publish(t, [productEvent('tenant-rotate', 1, 'after the overlap')]);
    await eventually(() => receiver.at('/rotate').length === 2, 5000);
    const single = receiver.at('/rotate')[1]!;
    verify(again.body.secret, single);
    expect(() => verify(rotated.body.secret, single)).to.throw();
  });

  it("when another tenant asks for an endpoint, then 404, and a tenant's events never reach another tenant's endpoints", async () => {
    const owner = await t.keyFor('tenant-owner');
    const other = await t.keyFor('tenant-other');
    const ownUrl = receiver.answer('/owner', () => 200);
    const otherUrl = receiver.answer('/other', () => 200);
    const own = await createEndpoint(t, owner, { url: ownUrl });
    const theirs = await createEndpoint(t, other, { url: otherUrl });
    for (const [method, path, body] of [
      ['GET', `/api/webhook-endpoints/${own.id}/`, undefined],
      ['PATCH', `/api/webhook-endpoints/${own.id}/`, { enabled: false }],
      ['DELETE', `/api/webhook-endpoints/${own.id}/`, undefined],
      ['POST', `/api/webhook-endpoints/${own.id}/rotate-secret/`, {}],
      ['GET', `/api/webhook-endpoints/${own.id}/attempts/`, undefined],
      ['GET', `/api/webhook-endpoints/${own.id}/dead-letters/`, undefined],
      ['POST', `/api/webhook-endpoints/${own.id}/dead-letters/replay/`, { all: true }],
    ] as const) {
      expectProblem(await call(t.url, method, path, { key: other, ...(body ? { body } : {}) }), 404);
    }
    const list = await call(t.url, 'GET', '/api/webhook-endpoints/', { key: other });
    expect(list.body.data.map((e: { id: number }) => e.id)).to.deep.equal([theirs.id]);

    await publish(t, [productEvent('tenant-owner', 3, 'private')]);
    await eventually(() => receiver.at('/owner').length === 1, 5000);
    expect(receiver.at('/other', false)).to.deep.equal([]);
    expect(await deliveriesOf(t, theirs.id)).to.deep.equal([]);

    const deleted = await call(t.url, 'DELETE', `/api/webhook-endpoints/${own.id}/`, { key: owner });
    expect(deleted.status, deleted.text).to.equal(204);
    expect(await deliveriesOf(t, own.id)).to.deep.equal([]);
    expectProblem(await call(t.url, 'GET', `/api/webhook-endpoints/${own.id}/`, { key: owner }), 404);
  });

  it('when the mapping fails on one record, then only that delivery is dead-lettered and the others carry their mapped record', async () => {
    const key = await t.keyFor('tenant-mapped');
    await putMapping(t.ctx.db, 'tenant-mapped', 'products', 'title = "boom" ? $error("cannot map this one") : { "name": $uppercase(title) }');
    const url = receiver.answer('/mapped', () => 200);
    const created = await createEndpoint(t, key, { url, use_mapping: true });
    await publish(t, [productEvent('tenant-mapped', 1, 'boom'), productEvent('tenant-mapped', 2, 'fine'), productEvent('tenant-mapped', 1, 'fixed')]);
    await eventually(() => receiver.at('/mapped').length === 2, 8000, 'the mappable changes');
    expect(receiver.at('/mapped').map((m) => [m.json.record_id, m.json.mapped])).to.have.deep.members([
      ['2', { name: 'FINE' }],
      ['1', { name: 'FIXED' }],
    ]);
    const dead = await call(t.url, 'GET', `/api/webhook-endpoints/${created.id}/dead-letters/`, { key });
    expect(dead.body.data).to.have.length(1);
    expect(dead.body.data[0]).to.include({ record_id: '1', attempts: 1 });
    expect(dead.body.data[0].last_error).to.match(/^Mapping failed: .*cannot map this one/);
  });

  it('when a URL is refused, then 422 naming url; with private targets off, plain http and loopback are refused too', async () => {
    const key = await t.keyFor('tenant-urls');
    const refused = await call(t.url, 'POST', '/api/webhook-endpoints/', { key, body: { url: 'ftp://files.example.com/hook' } });
    expectProblem(refused, 422);
    expect(refused.body.errors[0]).to.include({ location: 'body', name: 'url' });
    const strict = { config: { ...t.ctx.config, outbound: { ...t.ctx.config.outbound, allowPrivateTargets: false } } };
    for (const url of ['http://hooks.example.com/x', 'https://127.0.0.1/x', 'https://[::1]/x', 'https://169.254.169.254/latest']) {
      const error = await checkEndpointUrl(strict, url).then(
        () => null,
        (e: unknown) => e as { status: number },
      );
      expect(error?.status, url).to.equal(422);
    }
    expectProblem(await call(t.url, 'POST', '/api/webhook-endpoints/', { key, body: { url: 'https://hooks.example.com', event_types: [] } }), 400);
    expectProblem(await call(t.url, 'PATCH', '/api/webhook-endpoints/1/', { key, body: {} }), 400);
  });
});

describe('outbound webhooks: an endpoint failing for long', function () {
  this.timeout(30_000);
  let t: TestContext;
  let receiver: Receiver;
  let stopWorker: () => Promise<void>;

  before(async () => {
    // Disabled after about a second of failures; retries every 150 ms for longer than that.
    t = await startTestContext({ ...FAST, OUTBOUND_DISABLE_AFTER_HOURS: '0.0003', OUTBOUND_RETRY_SCHEDULE_MS: Array(20).fill('150').join(',') });
    receiver = new Receiver();
    await receiver.start();
    stopWorker = await startOutboundWorker(t.ctx);
  });
  after(async () => {
    await stopWorker?.();
    await receiver?.close();
    await t?.close();
  });

  it('when it fails continuously, then it is disabled with an endpoint.disabled event its siblings receive (never itself), and enabling it clears the failure and resumes its deliveries', async () => {
    const key = await t.keyFor('tenant-flaky');
    let healthy = false;
    const flakyUrl = receiver.answer('/flaky', () => (healthy ? 200 : 502));
    const watcherUrl = receiver.answer('/watcher', () => 200);
    const flaky = await createEndpoint(t, key, { url: flakyUrl });
    const watcher = await createEndpoint(t, key, { url: watcherUrl, event_types: ['endpoint.disabled'] });

    await publish(t, [productEvent('tenant-flaky', 1, 'never arrives while failing')]);
    await eventually(
      async () => {
        await sequenceChangeEvents(t.ctx.db);
        return receiver.at('/watcher').length === 1;
      },
      10_000,
      'the endpoint.disabled event',
    );
    const announced = receiver.at('/watcher')[0]!;
    verify(watcher.secret, announced);
    expect(announced.json).to.include({ type: 'endpoint.disabled', resource: null, record_id: null });
    expect(announced.json.data).to.include({ endpoint_id: flaky.id, url: flakyUrl });
    expect(announced.json.data.reason).to.match(/No delivery succeeded/);

    const disabled = await call(t.url, 'GET', `/api/webhook-endpoints/${flaky.id}/`, { key });
    expect(disabled.body).to.include({ enabled: false, disabled_reason: announced.json.data.reason });
    expect(disabled.body.failing_since).to.be.a('string');
    const triesWhileDisabled = receiver.at('/flaky', false).length;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(receiver.at('/flaky', false)).to.have.length(triesWhileDisabled);

    healthy = true;
    const enabled = await call(t.url, 'PATCH', `/api/webhook-endpoints/${flaky.id}/`, { key, body: { enabled: true } });
    expect(enabled.status, enabled.text).to.equal(200);
    expect(enabled.body).to.include({ enabled: true, disabled_reason: null, failing_since: null });
    await eventually(() => receiver.at('/flaky').length === 1, 5000, 'the pending delivery after enabling');
    expect(receiver.at('/flaky')[0]!.json.data.title).to.equal('never arrives while failing');
    await publish(t, [productEvent('tenant-flaky', 2, 'after enabling')]);
    await eventually(() => receiver.at('/flaky').length === 2, 5000, 'a new change after enabling');
    expect(receiver.at('/flaky', false).filter((m) => m.json.type === 'endpoint.disabled')).to.deep.equal([]);
    expect((await deliveriesOf(t, flaky.id)).map((d) => d.event_type)).to.deep.equal(['product.updated', 'product.updated']);
  });
});
