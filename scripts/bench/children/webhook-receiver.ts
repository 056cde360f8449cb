/**
 * A tenant's webhook endpoint for the outbound benchmark: a node:http server on 127.0.0.1 that answers
 * every POST 200 once its body is in, notes when it arrived (wall clock, comparable with the runner's send
 * times) and what it carried (webhook-id, event id and type, the record and its version), and checks the
 * Standard Webhooks signature of every `verifyEvery`-th delivery with the endpoint's secret.
 */
import http from 'node:http';
import { Webhook } from 'standardwebhooks';
import { sendReady, serveRunner } from '../lib/child-ipc.js';
import { changeOfEvent, wallClockMs } from '../lib/paced-webhooks.js';
import type { Arrival, Taken } from '../lib/receiver.js';

interface ChangeEventBody {
  id: string;
  type: string;
  resource: string | null;
  record_id: string | null;
  updated_at: string | null;
}

let arrivals: Arrival[] = [];
let received = 0;
let verified = 0;
let verifyEvery = 10;
let verifier: Webhook | undefined;
const failures: string[] = [];

function note(headers: http.IncomingHttpHeaders, body: string, at: number): void {
  received++;
  const header = (name: string) => String(headers[name] ?? '');
  if (verifier && received % verifyEvery === 0) {
    try {
      verifier.verify(body, { 'webhook-id': header('webhook-id'), 'webhook-timestamp': header('webhook-timestamp'), 'webhook-signature': header('webhook-signature') });
      verified++;
    } catch (error) {
      failures.push(`${header('webhook-id')}: ${(error as Error).message}`);
    }
  }
  try {
    const event = JSON.parse(body) as ChangeEventBody;
    const change = event.resource && event.record_id ? changeOfEvent(event) : null;
    arrivals.push({ at, webhookId: header('webhook-id'), eventId: event.id, type: event.type, change });
  } catch {
    failures.push(`${header('webhook-id')}: the body is not JSON`);
  }
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const at = wallClockMs();
    res.writeHead(200, { 'content-length': '0' }).end();
    note(req.headers, Buffer.concat(chunks).toString('utf8'), at);
  });
});
server.keepAliveTimeout = 30_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

serveRunner(
  {
    /** The endpoint's signing secret and how many deliveries make one checked. */
    configure: ({ secret, every }: { secret: string; every: number }) => {
      verifier = new Webhook(secret);
      verifyEvery = every;
    },
    /** Arrivals since the last call (and the counts since the last reset). */
    take: (): Taken => {
      const taken = arrivals;
      arrivals = [];
      return { arrivals: taken, received, verified, failures: failures.slice(0, 20), failed: failures.length };
    },
    count: () => received,
    reset: () => {
      arrivals = [];
      received = 0;
      verified = 0;
      failures.length = 0;
    },
  },
  () => new Promise<void>((resolve) => server.close(() => resolve())),
);
sendReady({ port: (server.address() as { port: number }).port });
