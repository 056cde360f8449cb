/**
 * Sends fuzz requests over keep-alive connections (node:http, so headers can be doubled and bodies be
 * anything) and judges each answer against the contract: never a 5xx, every 4xx an RFC 9457 problem
 * that validates against the contract's Problem schema (ajv), and the expectation of the request.
 */
import http from 'node:http';
import net from 'node:net';
import { Ajv } from 'ajv';
import type { FuzzRequest } from './fuzz-requests.js';
import { loadContract } from './fuzz-requests.js';

export interface FuzzResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export interface FuzzVerdict {
  request: FuzzRequest;
  response?: FuzzResponse;
  problems: string[];
}

/** The contract's Problem schema, compiled once (OpenAPI keywords like `example` are not JSON Schema: not strict). */
export function problemValidator() {
  const contract = loadContract();
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ $id: 'contract.json', components: contract.components }, 'contract.json');
  const validate = ajv.getSchema('contract.json#/components/schemas/Problem');
  if (!validate) throw new Error('the contract has no Problem schema');
  return (body: unknown): string | null => (validate(body) ? null : ajv.errorsText(validate.errors));
}

export function send(baseUrl: string, agent: http.Agent, req: FuzzRequest, timeoutMs = 10_000): Promise<FuzzResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { ...req.headers };
    if (req.body !== undefined) headers['content-length'] = req.body.length;
    let r: http.ClientRequest;
    try {
      r = http.request({ host: url.hostname, port: url.port, method: req.method, path: req.path, headers, agent, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
    } catch (error) {
      reject(error);
      return;
    }
    r.on('timeout', () => r.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    r.on('error', reject);
    r.end(req.body);
  });
}

/** Judges one answer. */
export function judge(req: FuzzRequest, res: FuzzResponse, validateProblem: (body: unknown) => string | null): string[] {
  const problems: string[] = [];
  const type = String(res.headers['content-type'] ?? '');
  if (res.status >= 500) problems.push(`server error ${res.status}: ${res.text.slice(0, 300)}`);
  if (req.expect === 'success' && (res.status < 200 || res.status >= 400)) problems.push(`expected success, got ${res.status}: ${res.text.slice(0, 200)}`);
  if (req.expect === 'reject' && (res.status < 400 || res.status >= 500)) problems.push(`expected a rejection (4xx), got ${res.status}: ${res.text.slice(0, 200)}`);
  if (res.status >= 400) {
    if (!/^application\/problem\+json/.test(type)) problems.push(`${res.status} is not problem+json (${type || 'no content-type'})`);
    let body: unknown;
    try {
      body = JSON.parse(res.text);
    } catch {
      problems.push(`${res.status} body is not JSON: ${res.text.slice(0, 100)}`);
    }
    if (body !== undefined) {
      const invalid = validateProblem(body);
      if (invalid) problems.push(`problem does not match the contract: ${invalid}`);
      if ((body as { status?: unknown }).status !== res.status) problems.push(`problem.status ${(body as { status?: unknown }).status} differs from HTTP ${res.status}`);
    }
  }
  if (req.expectEmptyList && res.status === 200) {
    const data = (JSON.parse(res.text) as { data?: unknown[] }).data;
    if (!Array.isArray(data) || data.length > 0) problems.push(`an injection filter matched ${Array.isArray(data) ? data.length : '?'} records`);
  }
  // Nothing the client sent may come back as a header of its own (response splitting) or unvalidated.
  for (const name of Object.keys(res.headers))
    if (/fuzz|injected/i.test(name) || (name === 'set-cookie' && /fuzz/.test(String(res.headers[name])))) problems.push(`response header ${name} was injected`);
  const requestId = String(res.headers['x-request-id'] ?? '');
  if (!/^[\w.:-]{1,128}$/.test(requestId)) problems.push(`x-request-id ${JSON.stringify(requestId.slice(0, 50))} is not a safe id`);
  if (res.headers['x-content-type-options'] !== 'nosniff') problems.push('security headers missing (x-content-type-options)');
  return problems;
}

/** Sends every request, `concurrency` at a time, and returns one verdict per request. */
export async function fuzz(baseUrl: string, requests: FuzzRequest[], opts: { concurrency?: number } = {}): Promise<FuzzVerdict[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency ?? 20 });
  const validateProblem = problemValidator();
  const verdicts: FuzzVerdict[] = new Array(requests.length);
  let next = 0;
  const lane = async () => {
    while (next < requests.length) {
      const index = next++;
      const request = requests[index] as FuzzRequest;
      try {
        const response = await send(baseUrl, agent, request);
        verdicts[index] = { request, response, problems: judge(request, response, validateProblem) };
      } catch (error) {
        verdicts[index] = { request, problems: [`no answer: ${(error as Error).message}`] };
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency ?? 20 }, lane));
  } finally {
    agent.destroy();
  }
  return verdicts;
}

/**
 * Bytes written straight to a socket, for what an HTTP client library refuses to send (CR/LF inside a
 * header, a header too large, conflicting lengths). Resolves with the raw answer.
 */
export function sendRaw(baseUrl: string, bytes: string | Buffer, timeoutMs = 5000): Promise<string> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    const chunks: Buffer[] = [];
    const done = () => resolve(Buffer.concat(chunks).toString('latin1'));
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', done);
    socket.on('error', () => undefined);
    socket.write(bytes);
  });
}

/** Status line and headers of a raw answer. */
export function parseRaw(raw: string): { status: number; headers: Record<string, string>; body: string } {
  const [head = '', ...rest] = raw.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, body: rest.join('\r\n\r\n') };
}
