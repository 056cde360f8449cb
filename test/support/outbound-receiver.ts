/**
 * A tenant's webhook receiver that misbehaves on demand, per path: it answers at once, answers late,
 * never answers (the sender's deadline passes, or the sending process dies first), answers 500, or
 * resets the connection once it has read the request. Every request is recorded with what it got, so a
 * test can tell which events were acknowledged, how often each was sent, and under which webhook-id.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export type ReceiverBehaviour =
  | { kind: 'ok'; delayMs?: number }
  /** Reads the request and keeps it open without a word until the client gives up or goes away. */
  | { kind: 'no-answer' }
  | { kind: 'status'; status: number }
  /** Reads the request, then resets the connection (RST) instead of answering. */
  | { kind: 'reset' };

export interface ReceivedRequest {
  path: string;
  /** Arrival order across the receiver. */
  seq: number;
  webhookId: string;
  timestamp: string;
  signature: string;
  body: string;
  /** The status answered; null when none was (no answer, reset). */
  answered: number | null;
}

export const OK: ReceiverBehaviour = { kind: 'ok' };

export class OutboundReceiver {
  readonly received: ReceivedRequest[] = [];
  private readonly behaviours = new Map<string, ReceiverBehaviour>();
  private readonly unanswered = new Set<(request: ReceivedRequest) => void>();
  private server!: Server;
  private base = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The URL of `path`, behaving as told from now on (default: answers 200 at once). */
  url(path: string, behaviour: ReceiverBehaviour = OK): string {
    this.behaviours.set(path, behaviour);
    return `${this.base}${path}`;
  }

  behave(path: string, behaviour: ReceiverBehaviour): void {
    this.behaviours.set(path, behaviour);
  }

  /** Every request to `path`, in arrival order. */
  at(path: string): ReceivedRequest[] {
    return this.received.filter((r) => r.path === path);
  }

  /** Requests to `path` answered 2xx. */
  acknowledged(path: string): ReceivedRequest[] {
    return this.at(path).filter((r) => r.answered !== null && r.answered >= 200 && r.answered < 300);
  }

  /** Resolves with the next request to `path` left unanswered (behaviour `no-answer`), as soon as it is read. */
  nextUnanswered(path: string): Promise<ReceivedRequest> {
    return new Promise((resolve) => {
      const listener = (request: ReceivedRequest) => {
        if (request.path !== path) return;
        this.unanswered.delete(listener);
        resolve(request);
      };
      this.unanswered.add(listener);
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      const header = (name: string) => String(req.headers[name] ?? '');
      const request: ReceivedRequest = {
        path,
        seq: this.received.length,
        webhookId: header('webhook-id'),
        timestamp: header('webhook-timestamp'),
        signature: header('webhook-signature'),
        body: Buffer.concat(chunks).toString('utf8'),
        answered: null,
      };
      this.received.push(request);
      const behaviour = this.behaviours.get(path) ?? OK;
      const answer = (status: number) => {
        if (res.destroyed) return;
        request.answered = status;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'thanks' : 'not now');
      };
      if (behaviour.kind === 'ok') {
        if (behaviour.delayMs) setTimeout(() => answer(200), behaviour.delayMs);
        else answer(200);
      } else if (behaviour.kind === 'status') answer(behaviour.status);
      else if (behaviour.kind === 'reset') req.socket.resetAndDestroy();
      else for (const listener of [...this.unanswered]) listener(request);
    });
  }
}

/** The message's payload if its signature verifies with `secret` (Standard Webhooks); throws otherwise. */
export function verifiedPayload(secret: string, request: ReceivedRequest): Record<string, unknown> {
  return new Webhook(secret).verify(request.body, {
    'webhook-id': request.webhookId,
    'webhook-timestamp': request.timestamp,
    'webhook-signature': request.signature,
  }) as Record<string, unknown>;
}
