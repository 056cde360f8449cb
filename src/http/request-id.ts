import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const GIVEN_ID = /^[\w.:-]{1,128}$/;

/**
 * The request's id: the caller's `X-Request-Id` when it is a plain token, else a new UUID. It is echoed
 * in the `X-Request-Id` response header, bound to the request's log lines and quoted in problem bodies.
 */
export function requestIdOf(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && GIVEN_ID.test(given) ? given : randomUUID();
  res.setHeader('X-Request-Id', id);
  return id;
}
