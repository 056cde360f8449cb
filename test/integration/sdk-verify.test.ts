import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { verifyWebhook, WebhookVerificationError, type WebhookEvent } from '../../sdk/typescript/src/index.js';
import { sendSignedMessage, signedHeaders, type OutboundMessage } from '../../src/outbound/send.js';

const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

const event: WebhookEvent = {
  id: 'evt_1001',
  type: 'product.updated',
  occurred_at: '2026-01-05T10:00:00.000Z',
  updated_at: '2026-01-05T09:59:58.000Z',
  resource: 'products',
  record_id: '8000000000001',
  data: { id: 8000000000001, title: 'Cozy Wool Tote Bag', status: 'active' },
};

function message(secrets: string[], overrides: Partial<OutboundMessage> = {}): OutboundMessage {
  return { url: 'http://127.0.0.1:1/', secrets, messageId: 'msg_1001', timestamp: new Date(), body: JSON.stringify(event), ...overrides };
}

const failureOf = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected verifyWebhook to throw');
};

/**
 * The SDK's `verifyWebhook` on the receiving side of the service's own sender: what an integrator writes
 * to accept change-event deliveries.
 */
describe('SDK verifyWebhook against the service’s signed deliveries', () => {
  let server: http.Server;
  let url: string;
  /** The secrets the receiver holds, and what it verified. */
  let receiverSecrets: string[] = [];
  const verified: WebhookEvent[] = [];

  before(async () => {
    // A receiver as the SDK's README shows it: raw body, verify, 2xx when authentic, 400 otherwise.
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        try {
          verified.push(verifyWebhook(Buffer.concat(chunks).toString('utf8'), req.headers, receiverSecrets));
          res.writeHead(204).end();
        } catch (err) {
          res.writeHead(err instanceof WebhookVerificationError ? 400 : 500).end(String(err));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const deliver = (secrets: string[], heldByReceiver: string[]) => {
    receiverSecrets = heldByReceiver;
    return sendSignedMessage(message(secrets, { url }), { timeoutMs: 2000, maxResponseBytes: 4096, allowPrivateTargets: true });
  };

  it('accepts an authentic delivery and answers the parsed event', async () => {
    const secret = newSecret();
    const result = await deliver([secret], [secret]);

    expect(result).to.include({ ok: true, statusCode: 204 });
    expect(verified.at(-1)).to.deep.equal(event);
  });

  it('during a rotation, a receiver holding either secret (or both) accepts; a stranger’s secret does not', async () => {
    const [current, previous] = [newSecret(), newSecret()];
    for (const held of [[current], [previous], [newSecret(), previous]]) {
      expect(await deliver([current, previous], held), `holding ${held.length} secret(s)`).to.include({ ok: true, statusCode: 204 });
    }
    const refused = await deliver([current, previous], [newSecret()]);
    expect(refused).to.include({ ok: false, statusCode: 400 });
    expect(refused.responseExcerpt).to.match(/WebhookVerificationError: No matching signature/);
  });

  it('refuses a changed body, a replayed old delivery, and missing headers', () => {
    const secret = newSecret();
    const msg = message([secret]);
    const headers = signedHeaders(msg);

    const tampered = failureOf(() => verifyWebhook(msg.body.replace('active', 'draft'), headers, secret));
    expect(tampered).to.be.instanceOf(WebhookVerificationError);

    const old = message([secret], { timestamp: new Date(Date.now() - 10 * 60_000) });
    const replayed = failureOf(() => verifyWebhook(old.body, signedHeaders(old), secret));
    expect(replayed).to.be.instanceOf(WebhookVerificationError);
    expect((replayed as Error).message).to.match(/too old/);

    const { 'webhook-signature': _dropped, ...unsigned } = headers;
    const missing = failureOf(() => verifyWebhook(msg.body, unsigned, secret));
    expect(missing).to.be.instanceOf(WebhookVerificationError);
    expect((missing as Error).message).to.match(/webhook-signature/);
  });

  it('reads Fetch API Headers and any header-name case, and returns the caller’s type', () => {
    const secret = newSecret();
    const msg = message([secret]);
    const headers = signedHeaders(msg);

    expect(verifyWebhook(msg.body, new Headers(headers), [secret])).to.deep.equal(event);
    const shouted = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    const typed = verifyWebhook<{ id: string; data: { title: string } }>(msg.body, shouted, secret);
    expect(typed.data.title).to.equal('Cozy Wool Tote Bag');
  });

  it('treats a missing or malformed secret as the caller’s mistake, not the delivery’s', () => {
    const msg = message([newSecret()]);
    expect(failureOf(() => verifyWebhook(msg.body, signedHeaders(msg), []))).to.be.instanceOf(TypeError);
    expect(failureOf(() => verifyWebhook(msg.body, signedHeaders(msg), 'whsec_'))).to.not.be.instanceOf(WebhookVerificationError);
  });
});
