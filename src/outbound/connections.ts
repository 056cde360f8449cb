import http from 'node:http';
import https from 'node:https';
import type { LookupAddress } from 'node:dns';

/**
 * Kept-alive connections to tenants' endpoints, reused from one delivery to the next: a connection (and a
 * TLS handshake) per delivery costs more than the delivery. One agent per origin and set of checked
 * addresses, so a connection is only ever reused for the addresses it was opened to (the SSRF guard
 * checks them per attempt); idle connections close after a few seconds, before most servers close them;
 * the least recently used origins are forgotten beyond a bound.
 */
export interface EndpointConnections {
  agentFor(url: URL, addresses: readonly LookupAddress[] | undefined): http.Agent;
  /** Closes every connection (the worker stopping). */
  close(): void;
}

export interface EndpointConnectionOptions {
  /** Connections one origin may hold open at once. */
  maxSocketsPerOrigin?: number;
  /** An idle connection is closed after this long. */
  idleMs?: number;
  /** Origins with kept connections at most; the least recently used beyond it are closed. */
  maxOrigins?: number;
}

export function createEndpointConnections(opts: EndpointConnectionOptions = {}): EndpointConnections {
  const { maxSocketsPerOrigin = 64, idleMs = 4000, maxOrigins = 500 } = opts;
  const agents = new Map<string, http.Agent>();
  return {
    agentFor(url, addresses) {
      const key = `${url.protocol}//${url.host}|${(addresses ?? []).map((a) => a.address).join(',')}`;
      let agent = agents.get(key);
      if (agent) {
        agents.delete(key); // re-inserted below: the map's order is the recency order
      } else {
        const options = { keepAlive: true, maxSockets: maxSocketsPerOrigin, maxFreeSockets: maxSocketsPerOrigin, timeout: idleMs, scheduling: 'lifo' as const };
        agent = url.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
      }
      agents.set(key, agent);
      // An origin dropped here may still have a request in flight: its agent is only forgotten, and its
      // idle connections close on their own after `idleMs`.
      for (const oldest of agents.keys()) {
        if (agents.size <= maxOrigins) break;
        agents.delete(oldest);
      }
      return agent;
    },
    close() {
      for (const agent of agents.values()) agent.destroy();
      agents.clear();
    },
  };
}
