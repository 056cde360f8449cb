import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { ValidationError } from '../../src/errors.js';
import { createEndpointConnections } from '../../src/outbound/connections.js';
import { sendSignedMessage, type OutboundMessage, type SendOptions } from '../../src/outbound/send.js';
import { assertPublicTarget, pinnedLookup, TargetRefusedError } from '../../src/outbound/ssrf.js';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface Receiver {
  port: number;
  url(path?: string): string;
  received: Received[];
  close(): Promise<void>;
}

/** A local webhook receiver on 127.0.0.1: records every request (after its body), then lets `handler` answer. */
async function startReceiver(handler: Handler): Promise<Receiver> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      handler(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path = '/hooks') => `http://127.0.0.1:${port}${path}`,
    received,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;
const LOCAL: SendOptions = { timeoutMs: 2000, maxResponseBytes: 65536, allowPrivateTargets: true };
const PUBLIC_ONLY: SendOptions = { ...LOCAL, allowPrivateTargets: false };

function message(url: string, overrides: Partial<OutboundMessage> = {}): OutboundMessage {
  const body = JSON.stringify({ id: 'evt_1', type: 'product.updated', occurred_at: new Date().toISOString(), data: { id: 42, title: 'Tote' } });
  return { url, secrets: [newSecret()], messageId: 'msg_1', timestamp: new Date(), body, ...overrides };
}

/** The three Standard Webhooks headers as `Webhook.verify` takes them. */
const signatureHeadersOf = (r: Received) => ({
  'webhook-id': String(r.headers['webhook-id']),
  'webhook-timestamp': String(r.headers['webhook-timestamp']),
  'webhook-signature': String(r.headers['webhook-signature']),
});

describe('Outbound sender (Standard Webhooks) against local receivers', () => {
  const receivers: Receiver[] = [];
  const receiver = async (handler: Handler) => {
    const r = await startReceiver(handler);
    receivers.push(r);
    return r;
  };
  after(async () => {
    await Promise.all(receivers.map((r) => r.close()));
  });

  it('signs once per secret; every signature verifies with standardwebhooks, nothing else does', async () => {
    const r = await receiver((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks'));
    const [current, previous] = [newSecret(), newSecret()];
    const msg = message(r.url(), { secrets: [current, previous], messageId: 'msg_sign' });

    const result = await sendSignedMessage(msg, LOCAL);

    expect(result).to.include({ ok: true, statusCode: 200, responseExcerpt: 'thanks', retryable: false });
    expect(result.error).to.equal(undefined);
    expect(result.durationMs).to.be.a('number').and.at.least(0);
    const [got] = r.received;
    expect(got!.body).to.equal(msg.body);
    expect(got!.headers['content-type']).to.equal('application/json');
    expect(got!.headers['user-agent']).to.match(/^shopify-integration-service/);
    expect(got!.headers['webhook-id']).to.equal('msg_sign');
    expect(got!.headers['webhook-timestamp']).to.equal(String(Math.floor(msg.timestamp.getTime() / 1000)));
    const signatures = String(got!.headers['webhook-signature']).split(' ');
    expect(signatures).to.have.length(2);
    for (const signature of signatures) expect(signature).to.match(/^v1,[A-Za-z0-9+/]+=*$/);

    const headers = signatureHeadersOf(got!);
    for (const secret of [current, previous]) expect(new Webhook(secret).verify(got!.body, headers)).to.deep.equal(JSON.parse(msg.body));
    expect(() => new Webhook(newSecret()).verify(got!.body, headers)).to.throw(/No matching signature/);
    expect(() => new Webhook(current).verify(got!.body.replace('Tote', 'Tate'), headers)).to.throw(/No matching signature/);
  });

  it('keeps the caller’s webhook-id on every attempt; each attempt is signed for its own timestamp', async () => {
    let calls = 0;
    const r = await receiver((_req, res) => {
      calls += 1;
      if (calls === 1) res.writeHead(503).end('busy');
      else res.writeHead(204).end();
    });
    const secret = newSecret();
    const first = await sendSignedMessage(message(r.url(), { secrets: [secret], messageId: 'msg_retry', timestamp: new Date(Date.now() - 60_000) }), LOCAL);
    const second = await sendSignedMessage(message(r.url(), { secrets: [secret], messageId: 'msg_retry', timestamp: new Date() }), LOCAL);

    expect(first).to.include({ ok: false, statusCode: 503, retryable: true, responseExcerpt: 'busy' });
    expect(first.error).to.match(/503/);
    expect(second).to.include({ ok: true, statusCode: 204, retryable: false });
    expect(r.received.map((x) => x.headers['webhook-id'])).to.deep.equal(['msg_retry', 'msg_retry']);
    expect(r.received[0]!.headers['webhook-timestamp']).to.not.equal(r.received[1]!.headers['webhook-timestamp']);
    for (const got of r.received) expect(() => new Webhook(secret).verify(got.body, signatureHeadersOf(got))).to.not.throw();
  });

  it('gives up on a receiver that never answers within the deadline, as a retryable timeout', async () => {
    const r = await receiver(() => undefined);
    const started = Date.now();
    const result = await sendSignedMessage(message(r.url()), { ...LOCAL, timeoutMs: 300 });
    const elapsed = Date.now() - started;

    expect(result).to.include({ ok: false, retryable: true });
    expect(result.statusCode).to.equal(undefined);
    expect(result.error).to.match(/timed out after 300 ms/);
    expect(elapsed).to.be.within(290, 1300);
    expect(result.durationMs).to.be.within(290, 1300);
  });

  it('lets the status decide when the body stalls after it: the deadline still ends the attempt', async () => {
    const r = await receiver((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('accepted, but the rest never comes');
    });
    const started = Date.now();
    const result = await sendSignedMessage(message(r.url()), { ...LOCAL, timeoutMs: 300 });

    expect(Date.now() - started).to.be.within(290, 1300);
    expect(result).to.include({ ok: true, statusCode: 200, responseExcerpt: 'accepted, but the rest never comes' });
  });

  it('with kept-alive connections, messages to one receiver share a connection; without, each opens its own', async () => {
    const ports: number[] = [];
    const r = await receiver((req, res) => {
      ports.push(req.socket.remotePort as number);
      res.writeHead(200).end('ok');
    });
    const connections = createEndpointConnections();
    try {
      for (let i = 0; i < 3; i++) expect(await sendSignedMessage(message(r.url()), { ...LOCAL, connections })).to.include({ ok: true });
      expect(new Set(ports).size).to.equal(1);
      for (let i = 0; i < 2; i++) expect(await sendSignedMessage(message(r.url()), LOCAL)).to.include({ ok: true });
      expect(new Set(ports).size).to.equal(3);
    } finally {
      connections.close();
    }
  });

  it("when more origins are used than are kept, then a forgotten origin's message in flight still completes", async () => {
    const slow = await receiver((_req, res) => setTimeout(() => res.writeHead(200).end('ok'), 200));
    const other = await receiver((_req, res) => res.writeHead(200).end('ok'));
    const connections = createEndpointConnections({ maxOrigins: 1 });
    try {
      const inFlight = sendSignedMessage(message(slow.url()), { ...LOCAL, connections });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await sendSignedMessage(message(other.url()), { ...LOCAL, connections })).to.include({ ok: true });
      expect(await inFlight).to.include({ ok: true, statusCode: 200 });
    } finally {
      connections.close();
    }
  });

  it('when the receiver closes a kept-alive connection as the next message arrives, then the message goes again on a fresh one, under its webhook-id', async () => {
    const served = new WeakMap<object, number>();
    const r = await receiver((req, res) => {
      const before = served.get(req.socket) ?? 0;
      served.set(req.socket, before + 1);
      if (before > 0)
        req.socket.destroy(); // an idle connection the receiver gave up on
      else res.writeHead(200).end('ok');
    });
    const connections = createEndpointConnections();
    try {
      expect(await sendSignedMessage(message(r.url(), { messageId: 'msg_a' }), { ...LOCAL, connections })).to.include({ ok: true });
      const second = await sendSignedMessage(message(r.url(), { messageId: 'msg_b' }), { ...LOCAL, connections });
      expect(second, second.error).to.include({ ok: true, statusCode: 200 });
      expect(r.received.map((m) => m.headers['webhook-id'])).to.deep.equal(['msg_a', 'msg_b', 'msg_b']);
    } finally {
      connections.close();
    }
  });

  it('reports a receiver that drops the connection as a retryable failure', async () => {
    const r = await receiver((req) => req.socket.destroy());
    const result = await sendSignedMessage(message(r.url()), LOCAL);

    expect(result).to.include({ ok: false, retryable: true });
    expect(result.error).to.match(/connection closed by the receiver/);
  });

  it('reports a refused connection as a retryable failure', async () => {
    const r = await startReceiver(() => undefined);
    const url = r.url();
    await r.close();
    const result = await sendSignedMessage(message(url), LOCAL);

    expect(result).to.include({ ok: false, retryable: true });
    expect(result.error).to.match(/^connection refused/);
  });

  it('stops reading a huge answer at maxResponseBytes and closes the connection', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const total = 256 * 1024 * 1024;
    let written = 0;
    let finished: boolean | undefined;
    let receiverClosed!: () => void;
    const closed = new Promise<void>((resolve) => (receiverClosed = resolve));
    const r = await receiver((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const pump = () => {
        while (written < total && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return;
        }
        res.end();
      };
      res.on('drain', pump);
      res.on('close', () => {
        finished = res.writableFinished;
        receiverClosed();
      });
      pump();
    });
    const result = await sendSignedMessage(message(r.url()), { ...LOCAL, maxResponseBytes: 100 * 1024 });
    await closed;

    expect(result).to.include({ ok: true, statusCode: 200 });
    expect(result.responseExcerpt).to.equal('x'.repeat(512));
    expect(finished, 'the receiver saw the connection closed before it finished').to.equal(false);
    expect(written).to.be.below(total);
  });

  it('never follows a redirect: a 3xx is a failed, retryable attempt', async () => {
    const r = await receiver((req, res) => {
      if (req.url === '/moved') res.writeHead(302, { location: `http://127.0.0.1:${(req.socket.address() as AddressInfo).port}/elsewhere` }).end();
      else res.writeHead(200).end('should not be reached');
    });
    const result = await sendSignedMessage(message(r.url('/moved')), LOCAL);

    expect(result).to.include({ ok: false, statusCode: 302, retryable: true });
    expect(result.error)
      .to.match(/redirect not followed/)
      .and.match(/\/elsewhere/);
    expect(r.received.map((x) => x.path)).to.deep.equal(['/moved']);
  });

  it('treats 410 Gone as final and every other non-2xx as retryable, with the answer’s first 512 bytes', async () => {
    const statuses = [410, 400, 404, 429, 500];
    const r = await receiver((req, res) => res.writeHead(Number(req.url!.slice(1))).end(`${req.url} `.repeat(300)));
    const results = await Promise.all(statuses.map((status) => sendSignedMessage(message(r.url(`/${status}`)), LOCAL)));

    expect(results.map((x) => [x.statusCode, x.ok, x.retryable])).to.deep.equal([
      [410, false, false],
      [400, false, true],
      [404, false, true],
      [429, false, true],
      [500, false, true],
    ]);
    expect(results[0]!.error).to.match(/410 Gone/);
    for (const x of results) expect(Buffer.byteLength(x.responseExcerpt!)).to.equal(512);
  });

  it('throws for a caller’s mistake (no secret, or one that is not whsec_), never for the network', async () => {
    let rejection: unknown;
    await sendSignedMessage(message('http://127.0.0.1:1/', { secrets: [] }), LOCAL).catch((err: unknown) => (rejection = err));
    expect(rejection).to.be.instanceOf(TypeError);
    rejection = undefined;
    await sendSignedMessage(message('http://127.0.0.1:1/', { secrets: ['plain-text'] }), LOCAL).catch((err: unknown) => (rejection = err));
    expect(rejection).to.be.instanceOf(TypeError);
  });
});

describe('Outbound SSRF guard', () => {
  const refused: [url: string, reason: RegExp][] = [
    ['https://127.0.0.1/hooks', /loopback/],
    ['https://10.20.30.40/hooks', /private/],
    ['https://192.168.1.1/hooks', /private/],
    ['https://172.16.0.1/hooks', /private/],
    ['https://169.254.169.254/latest/meta-data/', /cloud metadata/],
    ['https://169.254.10.10/', /link-local/],
    ['https://100.64.1.1/', /CGNAT/],
    ['https://0.0.0.0/', /unspecified/],
    ['https://224.0.0.1/', /multicast/],
    ['https://255.255.255.255/', /broadcast/],
    ['https://192.0.2.10/', /documentation/],
    ['https://198.18.0.1/', /benchmarking/],
    ['https://2130706433/', /loopback/], // 127.0.0.1 written as one number
    ['https://[::1]/hooks', /loopback/],
    ['https://[::]/', /unspecified/],
    ['https://[::ffff:127.0.0.1]/hooks', /IPv4-mapped loopback/],
    ['https://[::ffff:a9fe:a9fe]/', /IPv4-mapped cloud metadata/],
    ['https://[64:ff9b::a00:1]/', /NAT64 private/],
    ['https://[fd00:ec2::254]/', /unique-local/],
    ['https://[fe80::1]/', /link-local/],
    ['https://[ff02::1]/', /multicast/],
    ['https://[2001:db8::1]/', /documentation/],
    ['https://localhost/hooks', /resolves to .*loopback/],
    ['http://example.com/hooks', /must use https/],
    ['ftp://example.com/hooks', /must use https, not ftp/],
    ['https://user:secret@example.com/hooks', /must not contain credentials/],
    ['not a url', /not a valid absolute URL/],
  ];

  for (const [url, reason] of refused) {
    it(`refuses ${url}`, async () => {
      const err = await assertPublicTarget(url, false).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(TargetRefusedError).and.instanceOf(ValidationError);
      expect((err as ValidationError).status).to.equal(400);
      expect((err as Error).message)
        .to.match(reason)
        .and.not.include('secret');
      expect((err as ValidationError).errors).to.deep.equal([{ location: 'body', name: 'url', message: (err as Error).message }]);
    });
  }

  it('accepts public addresses, also IPv6 and IPv6 forms of public IPv4 (no DNS needed for literals)', async () => {
    for (const url of ['https://8.8.8.8/hooks', 'https://[2606:4700:4700::1111]/hooks', 'https://[::ffff:8.8.8.8]/', 'https://[64:ff9b::808:808]/', 'https://1.1.1.1:8443/x?y=1']) {
      await assertPublicTarget(url, false);
    }
  });

  it('with private targets allowed, accepts http and local hosts but still only http(s)', async () => {
    await assertPublicTarget('http://127.0.0.1:8080/hooks', true);
    await assertPublicTarget('http://localhost/hooks', true);
    await assertPublicTarget('https://[::1]/hooks', true);
    const err = await assertPublicTarget('file:///etc/passwd', true).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(TargetRefusedError);
    expect((err as TargetRefusedError).reason).to.equal('scheme');
  });

  it('refuses an unresolvable host as something that may pass later', async () => {
    const err = await assertPublicTarget('https://no-such-host.invalid/hooks', false).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(TargetRefusedError);
    expect((err as TargetRefusedError).reason).to.equal('unresolvable');
    const result = await sendSignedMessage(message('https://no-such-host.invalid/hooks'), PUBLIC_ONLY);
    expect(result.ok).to.equal(false);
    expect(result.retryable).to.equal(true);
  });

  describe('sendSignedMessage without private targets', () => {
    let r: Receiver;
    before(async () => {
      r = await startReceiver((_req, res) => res.writeHead(200).end('ok'));
    });
    after(() => r.close());

    it('refuses local and internal receivers before connecting: a final failure, no request made', async () => {
      const urls = [
        `https://127.0.0.1:${r.port}/hooks`,
        `https://localhost:${r.port}/hooks`,
        `https://[::1]:${r.port}/hooks`,
        `https://[::ffff:127.0.0.1]:${r.port}/hooks`,
        `https://10.0.0.1:${r.port}/hooks`,
        'https://169.254.169.254/latest/meta-data/',
        `http://127.0.0.1:${r.port}/hooks`,
      ];
      for (const url of urls) {
        const result = await sendSignedMessage(message(url), PUBLIC_ONLY);
        expect(result, url).to.include({ ok: false, retryable: false });
        expect(result.statusCode, url).to.equal(undefined);
        expect(result.error, url).to.match(/not a public address|must use https/);
      }
      expect(r.received).to.have.length(0);
      // The same receiver is reachable when private targets are allowed, so the refusals above were the guard's.
      expect(await sendSignedMessage(message(r.url()), LOCAL)).to.include({ ok: true });
    });

    it('connects to the pinned, checked address whatever DNS would say for the host', async () => {
      const checked: LookupAddress[] = [{ address: '127.0.0.1', family: 4 }];
      const answer = await new Promise<{ status: number; host: string | undefined }>((resolve, reject) => {
        const req = http.request(`http://receiver.invalid:${r.port}/pinned`, { method: 'POST', agent: false, lookup: pinnedLookup(checked) }, (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, host: r.received.at(-1)?.headers.host });
        });
        req.on('error', reject);
        req.end('{}');
      });
      expect(answer).to.deep.equal({ status: 200, host: `receiver.invalid:${r.port}` });

      const lookup = pinnedLookup([...checked, { address: '2606:4700:4700::1111', family: 6 }]);
      const asked = (options: object) => new Promise<unknown[]>((resolve) => lookup('anything.example', options, (err, address, family) => resolve([err?.message ?? null, address, family])));
      expect(await asked({})).to.deep.equal([null, '127.0.0.1', 4]);
      expect(await asked({ family: 6 })).to.deep.equal([null, '2606:4700:4700::1111', 6]);
      expect(await asked({ all: true })).to.deep.equal([null, [...checked, { address: '2606:4700:4700::1111', family: 6 }], undefined]);
      const v4Only = pinnedLookup(checked);
      const missing = await new Promise<NodeJS.ErrnoException | null>((resolve) => v4Only('x', { family: 6 }, (err) => resolve(err)));
      expect(missing?.code).to.equal('ENOTFOUND');
    });
  });
});
