/**
 * Requests derived from the contract (`src/generated/openapi.json`): for every operation, a valid base
 * request, then one variation at a time — each parameter and body field set to valid, boundary and
 * invalid values (wrong types, out of range, too long, unicode, SQL / path traversal / CRLF / template
 * injection), headers missing, doubled or forged, bodies malformed or oversized — and finally seeded
 * random combinations of several variations. Each request says what must come back:
 * `success` (2xx/3xx), `reject` (4xx) or `any` (anything but a 5xx).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { signWebhookBody } from '../../src/shopify/hmac.js';

type Schema = Record<string, any>;
export type Expectation = 'success' | 'reject' | 'any';

export interface FuzzRequest {
  op: string;
  /** What this request varies ("query limit=0", "body malformed"). */
  label: string;
  method: string;
  /** Path and query string, already percent-encoded. */
  path: string;
  /** Header values; an array sends the header once per value. */
  headers: Record<string, string | string[]>;
  body?: Buffer;
  expect: Expectation;
  /** Whether a success may change MySQL (such requests are checked one at a time). */
  mutating: boolean;
  /** A list filter carrying an injection string: no record may match it. */
  expectEmptyList?: boolean;
}

/** Ids and keys of the seeded database, so valid requests reach real rows. */
export interface FuzzFixture {
  tenantKey: string;
  otherTenantKey: string;
  revokedKey: string;
  adminKey: string;
  shop: string;
  appSecret: string;
  ids: { product: number; order: number; customer: number; inventoryItem: number; location: number; integration: number; victimApiKey: number; customerOfOrders: number; webhookEndpoint: number };
}

interface Case {
  /** The value on the wire (query/path/header) or in the JSON body. */
  value: unknown;
  expect: Expectation;
  note: string;
}

interface Param {
  name: string;
  in: 'query' | 'path' | 'header';
  required: boolean;
  schema: Schema;
}

interface Operation {
  id: string;
  method: string;
  path: string;
  params: Param[];
  body?: { schema: Schema; required: boolean };
  auth: 'tenant' | 'admin' | 'none';
  mutating: boolean;
}

const CONTRACT_PATH = path.resolve(import.meta.dirname, '../../src/generated/openapi.json');

/** Operations whose success writes to MySQL: their successes are checked one by one, not in bulk. */
const MUTATING = new Set([
  'disconnectStore',
  'startSync',
  'adminStartSync',
  'adminCreateApiKey',
  'adminRevokeApiKey',
  'putMapping',
  'deleteMapping',
  'createWebhookEndpoint',
  'updateWebhookEndpoint',
  'deleteWebhookEndpoint',
  'rotateWebhookEndpointSecret',
  'replayWebhookDeadLetters',
]);
/** Operations whose body names what to do: without it (the base request) they refuse; each property alone succeeds. */
const BASE_REJECTED = new Set(['adminReplayDeadLetters', 'replayWebhookDeadLetters']);
/** Operations that cannot succeed without a secret the fuzzer does not have (Shopify's signature, a real token, an issued install state and its browser cookie). */
const NEVER_SUCCEEDS = new Set(['connectStore', 'completeOAuth', 'showOAuthConfirmation', 'confirmOAuthInstall']);
const WEBHOOK_OPS = new Set(['receiveShopifyWebhook', 'receiveShopifyWebhookAlias']);
const LIST_FILTERS = new Set(['vendor', 'product_type', 'handle', 'email']);

// ---------- hostile values ----------

export const HOSTILE_STRINGS: { value: string; note: string }[] = [
  { value: "' OR '1'='1", note: 'sql tautology' },
  { value: '1; DROP TABLE shopify_products; --', note: 'sql drop' },
  { value: "' UNION SELECT key_hash FROM api_keys -- ", note: 'sql union' },
  { value: '" OR ""="', note: 'sql double quote' },
  { value: "1' AND SLEEP(3) AND '1'='1", note: 'sql sleep' },
  { value: "\\'; --", note: 'sql escape' },
  { value: '../../../../etc/passwd', note: 'path traversal' },
  { value: '..\\..\\windows\\win.ini', note: 'path traversal backslash' },
  { value: '%2e%2e%2f%2e%2e%2fetc%2fpasswd', note: 'path traversal encoded' },
  { value: '....//....//etc/passwd', note: 'path traversal doubled' },
  { value: 'abc\r\nSet-Cookie: fuzz=1', note: 'crlf' },
  { value: 'abc\r\n\r\n<html>', note: 'crlf body' },
  { value: 'a\u0000b', note: 'nul' },
  { value: '\u0007\u001b[31m', note: 'control chars' },
  { value: '<script>alert(1)</script>', note: 'xss' },
  { value: '{{7*7}}${7*7}<%= 7*7 %>', note: 'template' },
  { value: '__proto__', note: 'proto key' },
  { value: '{"$gt":""}', note: 'nosql' },
  { value: 'Zürich 東京 Ωμέγα', note: 'unicode' },
  { value: '🔥💯🚀', note: 'emoji' },
  { value: '\u202Eevil\u202C', note: 'rtl override' },
  { value: 'e\u0301\u0301\u0301', note: 'combining' },
  { value: '\uFEFFbom', note: 'bom' },
  { value: '   ', note: 'spaces' },
  { value: '%00%ff%fe', note: 'percent garbage' },
  { value: 'x'.repeat(300), note: 'long 300' },
  { value: 'é'.repeat(2000), note: 'long unicode 2000' },
  { value: 'x'.repeat(8000), note: 'huge 8000' },
];

const NUMERIC_JUNK = [
  'abc',
  '1.5',
  '-1',
  '0',
  '',
  ' ',
  '-',
  '1e400',
  '99999999999999999999999',
  'NaN',
  'Infinity',
  '-Infinity',
  'null',
  'undefined',
  'true',
  '[]',
  '{}',
  '9007199254740992',
  '9007199254740993',
  '18446744073709551616',
];
/** Numeric spellings a coercing validator may accept or refuse: anything but a 5xx. */
const NUMERIC_AMBIGUOUS = ['0x10', '+5', '05', ' 5', '5 ', '1e2', '1.0', '-0', '0b1', '1_000'];

// ---------- contract ----------

export function loadContract(): Schema {
  return JSON.parse(readFileSync(CONTRACT_PATH, 'utf8')) as Schema;
}

function resolver(contract: Schema) {
  const deref = (node: any): any => {
    if (Array.isArray(node)) return node.map(deref);
    if (!node || typeof node !== 'object') return node;
    if (typeof node.$ref === 'string') {
      const target = (node.$ref as string)
        .replace(/^#\//, '')
        .split('/')
        .reduce((o: any, k: string) => o?.[k], contract);
      return deref(target);
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, deref(v)]));
  };
  return deref;
}

export function operationsOf(contract: Schema): Operation[] {
  const deref = resolver(contract);
  const ops: Operation[] = [];
  for (const [p, item] of Object.entries<Schema>(contract.paths)) {
    for (const [method, op] of Object.entries<Schema>(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map(deref).map((x: Schema) => ({ name: x.name, in: x.in, required: Boolean(x.required), schema: x.schema ?? {} }));
      const security = (op.security ?? contract.security ?? []) as Schema[];
      const auth = security.length === 0 ? 'none' : security.some((s) => 'AdminKey' in s) ? 'admin' : 'tenant';
      const content = op.requestBody ? deref(op.requestBody) : undefined;
      ops.push({
        id: op.operationId,
        method: method.toUpperCase(),
        path: p,
        params,
        ...(content ? { body: { schema: content.content?.['application/json']?.schema ?? {}, required: Boolean(content.required) } } : {}),
        auth,
        mutating: MUTATING.has(op.operationId),
      });
    }
  }
  return ops;
}

// ---------- values from schemas ----------

/** Wire values (strings) for a query, path or header parameter, derived from its schema. */
function wireCases(param: Param, validValue: string | undefined): Case[] {
  const s = param.schema;
  const cases: Case[] = [];
  const add = (value: string, expect: Expectation, note: string) => cases.push({ value, expect, note });
  if (s.type === 'integer' || s.type === 'number') {
    const min = s.minimum ?? 0;
    const max = s.maximum ?? Number.MAX_SAFE_INTEGER;
    // A path id in range may name a row or nothing (404).
    const inRange: Expectation = param.in === 'path' ? 'any' : 'success';
    if (validValue !== undefined) add(validValue, 'success', 'seeded value');
    add(String(min), inRange, 'minimum');
    add(String(max), inRange, 'maximum');
    if (max - min > 2) add(String(Math.floor((min + max) / 2)), inRange, 'middle');
    add(String(min - 1), 'reject', 'below minimum');
    if (Number.isSafeInteger(max + 1)) add(String(max + 1), 'reject', 'above maximum');
    for (const junk of NUMERIC_JUNK) {
      const n = Number(junk);
      const acceptable = junk.trim() !== '' && Number.isInteger(n) && n >= min && n <= max && Number.isSafeInteger(n);
      // An empty path segment is no id at all: `/products//` is the list once its slashes are merged.
      if (!acceptable) add(junk, junk === '' && param.in === 'path' ? 'any' : 'reject', `number junk ${JSON.stringify(junk)}`);
    }
    for (const odd of NUMERIC_AMBIGUOUS) add(odd, 'any', `number spelling ${JSON.stringify(odd)}`);
    for (const h of HOSTILE_STRINGS) add(h.value, 'reject', h.note);
    return cases;
  }
  if (s.type === 'boolean') {
    add('true', 'success', 'true');
    add('false', 'success', 'false');
    for (const v of ['maybe', '2', '', 'yes!', 'null', '[]']) add(v, 'reject', `boolean junk ${JSON.stringify(v)}`);
    for (const v of ['TRUE', 'True', '1', '0']) add(v, 'any', `boolean spelling ${v}`);
    for (const h of HOSTILE_STRINGS.slice(0, 12)) add(h.value, 'reject', h.note);
    return cases;
  }
  // Strings.
  if (Array.isArray(s.enum)) {
    for (const v of s.enum as string[]) add(v, 'success', `enum ${v}`);
    const first = String(s.enum[0]);
    add('not-a-value', 'reject', 'outside the enum');
    if (first.toUpperCase() !== first) add(first.toUpperCase(), 'reject', 'enum in upper case');
    add(`${first} `, 'reject', 'enum with a trailing space');
    // An empty path segment names no resource: `/mappings//` is the list once its slashes are merged.
    add('', param.in === 'path' ? 'any' : 'reject', 'empty');
    for (const h of HOSTILE_STRINGS) add(h.value, 'reject', h.note);
    return cases;
  }
  if (s.format === 'date-time') {
    for (const v of ['2024-03-01T00:00:00Z', '2024-03-01T07:00:00.123-05:00', '1970-01-01T00:00:00Z', '2099-12-31T23:59:59.999Z']) add(v, 'success', `date-time ${v}`);
    for (const v of ['yesterday', '2024-13-45T00:00:00Z', '2024-03-01 00:00:00', '2024-03-01', '1700000000', '', '2024-03-01T25:00:00Z', 'T00:00:00Z'])
      add(v, 'reject', `not a date-time ${JSON.stringify(v)}`);
    for (const v of ['2024-02-30T00:00:00Z', '0000-01-01T00:00:00Z', '2024-03-01T00:00:00+14:00', '2024-03-01t00:00:00z']) add(v, 'any', `edge date-time ${v}`);
    for (const h of HOSTILE_STRINGS) add(h.value, 'reject', h.note);
    return cases;
  }
  const minLength = s.minLength ?? 0;
  const maxLength = s.maxLength ?? Infinity;
  const pattern = s.pattern ? new RegExp(s.pattern) : undefined;
  const fits = (v: string) => v.length >= minLength && v.length <= maxLength && (!pattern || pattern.test(v));
  // A string that fits the schema may still be refused by the handler (a shop name, a cursor): `any`,
  // except list filters, which must answer 200 with no match.
  const fitting: Expectation = LIST_FILTERS.has(param.name) && param.in === 'query' ? 'success' : 'any';
  if (validValue !== undefined) add(validValue, 'success', 'seeded value');
  if (minLength > 0) add('', 'reject', 'empty (minLength)');
  if (Number.isFinite(maxLength)) {
    add('a'.repeat(maxLength), fits('a'.repeat(maxLength)) ? fitting : 'reject', 'maxLength');
    add('a'.repeat(maxLength + 1), 'reject', 'maxLength + 1');
  }
  if (pattern) for (const v of ['a b', 'a/b', 'a=b', 'a+b', '-abc', 'ab!']) add(v, fits(v) ? 'any' : 'reject', `pattern ${JSON.stringify(v)}`);
  for (const h of HOSTILE_STRINGS) {
    const ok = fits(h.value);
    cases.push({ value: h.value, expect: ok ? fitting : 'reject', note: h.note });
  }
  return cases;
}

/** JSON values for one body property, derived from its schema. */
function jsonCases(schema: Schema, valid: unknown): Case[] {
  const cases: Case[] = [];
  const add = (value: unknown, expect: Expectation, note: string) => cases.push({ value, expect, note });
  const wrongTypes: [unknown, string][] = [
    [null, 'null'],
    [true, 'boolean'],
    [42, 'number'],
    ['text', 'string'],
    [[], 'array'],
    [{}, 'object'],
    [{ $gt: '' }, 'operator object'],
  ];
  const type = schema.type ?? (Array.isArray(schema.enum) ? 'string' : undefined);
  for (const [value, name] of wrongTypes) {
    const sameType =
      (type === 'string' && typeof value === 'string') ||
      (type === 'boolean' && typeof value === 'boolean') ||
      (type === 'array' && Array.isArray(value)) ||
      (type === 'object' && value !== null && typeof value === 'object' && !Array.isArray(value)) ||
      ((type === 'integer' || type === 'number') && typeof value === 'number');
    // null is a value of its own for a nullable property (a description cleared, every event type).
    if (value === null && schema.nullable === true) add(value, 'success', 'null (nullable)');
    else if (!sameType) add(value, 'reject', `wrong type ${name}`);
  }
  if (type === 'string') {
    if (Array.isArray(schema.enum)) {
      for (const v of schema.enum as string[]) add(v, 'success', `enum ${v}`);
      add('not-a-value', 'reject', 'outside the enum');
    } else {
      const max = schema.maxLength ?? 10_000;
      const pattern = schema.pattern ? new RegExp(schema.pattern) : undefined;
      const fits = (v: string) => v.length >= (schema.minLength ?? 0) && v.length <= max && (!pattern || pattern.test(v));
      if (valid !== undefined) add(valid, 'success', 'valid');
      if ((schema.minLength ?? 0) > 0) add('', 'reject', 'empty (minLength)');
      add('a'.repeat(max), fits('a'.repeat(max)) ? 'any' : 'reject', 'maxLength');
      add('a'.repeat(max + 1), 'reject', 'maxLength + 1');
      add('x'.repeat(200_000), 'reject', 'huge string');
      for (const h of HOSTILE_STRINGS) add(h.value, fits(h.value) ? 'any' : 'reject', h.note);
    }
  } else if (type === 'boolean') {
    add(true, 'success', 'true');
    add(false, 'any', 'false');
    add('true', 'any', 'boolean as string');
  } else if (type === 'array') {
    const items = (schema.items ?? {}) as Schema;
    const integers = items.type === 'integer';
    // Valid items given for the property (e.g. event types, which have a pattern) come first.
    const itemValues: unknown[] = Array.isArray(valid) && valid.length > 0 ? valid : Array.isArray(items.enum) ? items.enum : integers ? [1, 2, 3, 4] : ['1-1', '2-2', '3-3', '4-4'];
    add(itemValues.slice(0, 1), 'success', 'one item');
    if ((schema.minItems ?? 0) > 0) add([], 'reject', 'empty (minItems)');
    if (schema.uniqueItems) add([itemValues[0], itemValues[0]], 'reject', 'duplicate items');
    if (schema.maxItems !== undefined)
      add(
        Array.from({ length: schema.maxItems + 1 }, (_, i) => itemValues[i % itemValues.length]),
        'reject',
        'maxItems + 1',
      );
    add(integers ? ['abc'] : [42], 'reject', 'item of the wrong type');
    add(['not-an-item'], 'reject', 'item outside the schema');
    add(
      Array.from({ length: 50_000 }, () => itemValues[0]),
      'reject',
      'huge array',
    );
    for (const h of HOSTILE_STRINGS.slice(0, 16)) add([h.value], 'reject', `item ${h.note}`);
  }
  return cases;
}

/** A body of the required properties only, each with its valid value. */
function validBody(schema: Schema, validProps: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of (schema.required ?? []) as string[]) out[name] = validProps[name];
  return out;
}

// ---------- requests ----------

function encodeQuery(params: [string, string][]): string {
  if (params.length === 0) return '';
  // Hostile strings go on the wire as their UTF-8 bytes, percent-encoded.
  return `?${params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`;
}

/** Header values travel as latin1 on the wire: other characters as their UTF-8 bytes; CR, LF and NUL cannot be sent at all. */
export function wireHeader(value: string): string | undefined {
  if (/[\r\n\0]/.test(value)) return undefined;
  const latin1 = Buffer.from(value, 'utf8').toString('latin1');
  return /^[\t\x20-\x7e\x80-\xff]*$/.test(latin1) ? latin1 : undefined;
}

export function generateRequests(fixture: FuzzFixture, opts: { randomCombinations?: number; seed?: number } = {}): FuzzRequest[] {
  const contract = loadContract();
  const out: FuzzRequest[] = [];
  let rnd = (opts.seed ?? 1) >>> 0;
  const random = () => {
    rnd = (rnd + 0x6d2b79f5) >>> 0;
    let x = rnd;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };

  for (const op of operationsOf(contract)) {
    const webhook = WEBHOOK_OPS.has(op.id);
    const validParam = validParamValues(op, fixture);
    const validProps = validBodyProps(op.id);
    const baseBody = Object.keys(validProps).length > 0 ? validProps : op.body?.required ? validBody(op.body.schema, validProps) : undefined;
    const baseExpect: Expectation = NEVER_SUCCEEDS.has(op.id) ? 'reject' : 'success';
    /** What the base request, and variations of its parameters alone (same body), must get. */
    const baseRequestExpect: Expectation = BASE_REJECTED.has(op.id) ? 'reject' : baseExpect;
    const authHeader = op.auth === 'tenant' ? `Bearer ${fixture.tenantKey}` : op.auth === 'admin' ? `Bearer ${fixture.adminKey}` : undefined;

    /** Builds one request from parameter values (missing = omitted) and a body. */
    const build = (
      label: string,
      values: Map<string, string | undefined>,
      expect: Expectation,
      extra: { body?: Buffer | null; headers?: Record<string, string | string[] | undefined>; method?: string; expectEmptyList?: boolean; rawQuery?: string } = {},
    ): void => {
      let p = op.path;
      const query: [string, string][] = [];
      const headers: Record<string, string | string[]> = {};
      for (const param of op.params) {
        const v = values.get(param.name);
        if (v === undefined) continue;
        if (param.in === 'path') p = p.replace(`{${param.name}}`, encodeURIComponent(v));
        else if (param.in === 'query') query.push([param.name, v]);
        else if (v !== SIGN_ME) {
          const h = wireHeader(v);
          if (h === undefined) return; // cannot travel in a header (the raw-socket tests cover CR/LF)
          headers[param.name.toLowerCase()] = h;
        }
      }
      if (p.includes('{')) return;
      let body: Buffer | undefined;
      if (extra.body !== undefined) body = extra.body ?? undefined;
      else if (webhook) body = Buffer.from(JSON.stringify({ id: 7_100_000_000_001, title: 'fuzz', updated_at: '2024-03-01T00:00:00Z' }));
      else if (baseBody !== undefined) body = Buffer.from(JSON.stringify(baseBody));
      if (body !== undefined && !('content-type' in (extra.headers ?? {}))) headers['content-type'] = 'application/json';
      if (webhook && values.get('X-Shopify-Hmac-Sha256') === SIGN_ME) headers['x-shopify-hmac-sha256'] = signWebhookBody(body ?? Buffer.alloc(0), fixture.appSecret);
      if (authHeader) headers.authorization = authHeader;
      for (const [k, v] of Object.entries(extra.headers ?? {})) {
        if (v === undefined) delete headers[k];
        else headers[k] = v;
      }
      // Node refuses request heads over 16 KB before the app sees them (the raw-socket tests cover that).
      if (p.length + (extra.rawQuery ?? encodeQuery(query)).length + JSON.stringify(headers).length + JSON.stringify(extra.headers ?? {}).length > 14_000) return;
      const mutating = op.mutating && expect !== 'reject';
      out.push({
        op: op.id,
        label,
        method: extra.method ?? op.method,
        path: p + (extra.rawQuery ?? encodeQuery(query)),
        headers,
        ...(body !== undefined ? { body } : {}),
        expect,
        mutating,
        ...(extra.expectEmptyList ? { expectEmptyList: true } : {}),
      });
    };

    const base = new Map<string, string | undefined>(op.params.filter((p) => p.required).map((p) => [p.name, validParam[p.name]]));
    build('base', base, baseRequestExpect);

    // One parameter at a time.
    for (const param of op.params) {
      const cases = webhook ? webhookHeaderCases(param, validParam[param.name]) : wireCases(param, validParam[param.name]);
      for (const c of cases) {
        const values = new Map(base);
        values.set(param.name, String(c.value));
        const expect = combine(baseRequestExpect, c.expect);
        const emptyList = op.method === 'GET' && LIST_FILTERS.has(param.name) && c.expect === 'success' && c.note !== 'seeded value' && !/^a+$/.test(String(c.value));
        build(`${param.in} ${param.name}: ${c.note}`, values, expect, { expectEmptyList: emptyList });
      }
      if (param.required) build(`${param.in} ${param.name}: missing`, new Map([...base].filter(([k]) => k !== param.name)), 'reject');
      if (param.in === 'query') {
        const v = validParam[param.name] ?? firstValid(param);
        build(`query ${param.name}: repeated`, base, 'any', { rawQuery: encodeQuery([...([...base].filter(([, x]) => x !== undefined) as [string, string][]), [param.name, v], [param.name, v]]) });
        build(`query ${param.name}[]: array syntax`, base, 'any', {
          rawQuery: `${encodeQuery([...base].filter(([, x]) => x !== undefined) as [string, string][]) || '?'}&${encodeURIComponent(param.name)}[]=${encodeURIComponent(v)}`,
        });
        build(`query ${param.name}[a]: object syntax`, base, 'any', {
          rawQuery: `${encodeQuery([...base].filter(([, x]) => x !== undefined) as [string, string][]) || '?'}&${encodeURIComponent(param.name)}[a]=1`,
        });
      }
    }

    // Query keys that are not parameters (the contract refuses unknown parameters), and prototype pollution.
    const baseQuery = encodeQuery([...base].filter(([, x]) => x !== undefined) as [string, string][]);
    const sep = baseQuery ? '&' : '?';
    if (!webhook) {
      build('query unknown parameter', base, 'reject', { rawQuery: `${baseQuery}${sep}unknown_param=1` });
      build('query __proto__ pollution', base, 'any', { rawQuery: `${baseQuery}${sep}__proto__[polluted]=1&constructor[prototype][polluted]=1` });
      build('query undecodable percent escape', base, 'any', { rawQuery: `${baseQuery}${sep}limit=%E0%A4%A` });
    }

    // Authentication.
    if (op.auth !== 'none') {
      build('auth missing', base, 'reject', { headers: { authorization: undefined } });
      for (const [value, note] of [
        ['Bearer', 'scheme only'],
        ['Bearer ', 'scheme and space'],
        [`Basic ${Buffer.from('a:b').toString('base64')}`, 'basic auth'],
        [`Bearer ${fixture.tenantKey.slice(0, -1)}`, 'truncated key'],
        [`Bearer ${fixture.tenantKey}x`, 'key with a suffix'],
        [`Bearer ${fixture.tenantKey.toUpperCase()}`, 'key upper-cased'],
        [`Bearer ${fixture.revokedKey}`, 'revoked key'],
        [`Token ${fixture.tenantKey}`, 'wrong scheme'],
        [`Bearer ${fixture.tenantKey} extra`, 'trailing token'],
        [`Bearer ${"' OR '1'='1"}`, 'sql in key'],
        [`Bearer ${'k'.repeat(5000)}`, 'huge key'],
      ] as const)
        build(`auth ${note}`, base, 'reject', { headers: { authorization: value } });
      if (op.auth === 'admin') build('auth tenant key on an operator route', base, 'reject', { headers: { authorization: `Bearer ${fixture.tenantKey}` } });
      else build('auth operator key on a tenant route', base, 'reject', { headers: { authorization: `Bearer ${fixture.adminKey}` } });
      build('auth doubled header (valid, garbage)', base, 'any', { headers: { authorization: [authHeader as string, 'Bearer garbage'] } });
      build('auth doubled header (garbage, valid)', base, 'any', { headers: { authorization: ['Bearer garbage', authHeader as string] } });
      build('auth lower-case scheme', base, 'any', { headers: { authorization: `bearer ${authHeader!.slice(7)}` } });
    }

    // Other headers.
    build('header huge unknown (10 KB)', base, baseExpect === 'reject' ? 'reject' : 'any', { headers: { 'x-fuzz': 'f'.repeat(10_000) } });
    build('header x-request-id hostile', base, baseExpect === 'reject' ? 'reject' : 'any', { headers: { 'x-request-id': '<script>' } });
    build('header accept xml', base, baseExpect === 'reject' ? 'reject' : 'any', { headers: { accept: 'application/xml' } });

    // Methods the path does not have.
    for (const method of ['PUT', 'PATCH', 'DELETE', 'POST', 'GET']) {
      const item = contract.paths[op.path] as Schema;
      if (!(method.toLowerCase() in item) && method !== op.method) build(`method ${method}`, base, 'reject', { method, body: null });
    }

    // Bodies.
    if (op.body || webhook) {
      const bodies: [Buffer, string, Expectation, Record<string, string | undefined>?][] = [
        [Buffer.from('{'), 'malformed: open brace', 'reject'],
        [Buffer.from('{"a":}'), 'malformed: missing value', 'reject'],
        [Buffer.from("{'a':1}"), 'malformed: single quotes', 'reject'],
        [Buffer.from('{"a":1,}'), 'malformed: trailing comma', 'reject'],
        [Buffer.from('{"a":NaN}'), 'malformed: NaN', 'reject'],
        [Buffer.from([0xef, 0xbb, 0xbf, ...Buffer.from('{}')]), 'BOM then {}', 'any'],
        [Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]), 'UTF-16 bytes', 'reject'],
        [Buffer.from('null'), 'JSON null', 'reject'],
        [Buffer.from('[]'), 'JSON array', 'reject'],
        [Buffer.from('"text"'), 'JSON string', 'reject'],
        [Buffer.from('12345'), 'JSON number', 'reject'],
        [Buffer.from(`${'['.repeat(100_000)}${']'.repeat(100_000)}`), 'nested 100,000 deep', 'reject'],
        [Buffer.from(`{"__proto__":{"polluted":true}${baseBody ? `,${JSON.stringify(baseBody).slice(1, -1)}` : ''}}`), '__proto__ member', 'any'],
        [Buffer.from(`{"constructor":{"prototype":{"polluted":true}}${baseBody ? `,${JSON.stringify(baseBody).slice(1, -1)}` : ''}}`), 'constructor.prototype member', 'reject'],
        [Buffer.alloc(1024 * 1024 + 10, 0x20), 'oversized whitespace (1 MB + 10)', 'reject'],
        [Buffer.from(`{"pad":"${'p'.repeat(3 * 1024 * 1024)}"}`), 'oversized (3 MB)', 'reject'],
        [Buffer.from(JSON.stringify(baseBody ?? {})), 'content-type text/plain', 'any', { 'content-type': 'text/plain' }],
        [Buffer.from(JSON.stringify(baseBody ?? {})), 'content-type missing', 'any', { 'content-type': undefined }],
        [Buffer.from(JSON.stringify(baseBody ?? {})), 'content-type utf-16 charset', 'any', { 'content-type': 'application/json; charset=utf-16' }],
        [Buffer.from(JSON.stringify(baseBody ?? {})), 'content-type form', 'any', { 'content-type': 'application/x-www-form-urlencoded' }],
        [Buffer.from('not gzip at all'), 'content-encoding gzip garbage', 'reject', { 'content-encoding': 'gzip' }],
        [Buffer.from(JSON.stringify(baseBody ?? {})), 'content-encoding unknown', 'any', { 'content-encoding': 'br-fuzz' }],
        [Buffer.alloc(0), 'empty body', op.body?.required || webhook ? 'reject' : 'any'],
      ];
      for (const [body, note, expect, headers] of bodies) {
        const values = new Map(base);
        if (webhook) values.set('X-Shopify-Hmac-Sha256', SIGN_ME); // signed, so the body itself is what is judged
        const bodyExpect: Expectation = webhook && note === 'BOM then {}' ? 'any' : expect;
        build(`body ${note}`, values, combine(baseExpect, bodyExpect), { body, headers: headers ?? {} });
      }
    }
    if (op.body && op.body.schema.type === 'object') {
      const schema = op.body.schema;
      const props = Object.entries<Schema>(schema.properties ?? {});
      for (const [name, propSchema] of props) {
        for (const c of jsonCases(propSchema, validProps[name])) {
          const body = { ...(baseBody ?? {}), [name]: c.value };
          build(`body ${name}: ${c.note}`, new Map(base), combine(baseExpect, c.expect), { body: Buffer.from(JSON.stringify(body)) });
        }
        if ((schema.required ?? []).includes(name)) {
          const body = { ...(baseBody ?? {}) };
          delete body[name];
          build(`body ${name}: missing`, new Map(base), 'reject', { body: Buffer.from(JSON.stringify(body)) });
        }
      }
      if (schema.additionalProperties === false) build('body unknown member', new Map(base), 'reject', { body: Buffer.from(JSON.stringify({ ...(baseBody ?? {}), unknown_member: 1 })) });
      build('body duplicate keys', new Map(base), 'any', { body: Buffer.from(`{${props.map(([n]) => `"${n}":1`).join(',')}${props.length ? ',' : ''}${JSON.stringify(baseBody ?? {}).slice(1)}`) });
    }

    // Seeded random combinations of several parameter values at once.
    const pools = op.params.map((param) => ({ param, cases: webhook ? webhookHeaderCases(param, validParam[param.name]) : wireCases(param, validParam[param.name]) }));
    for (let i = 0; i < (opts.randomCombinations ?? 0) && pools.length > 0; i++) {
      const values = new Map(base);
      let expect: Expectation = baseRequestExpect;
      const notes: string[] = [];
      for (const { param, cases } of pools) {
        if (random() < 0.5) continue;
        const c = cases[Math.floor(random() * cases.length)] as Case;
        values.set(param.name, String(c.value));
        notes.push(`${param.name}=${c.note}`);
        expect = combine(expect, c.expect);
      }
      build(`combination ${notes.join(', ') || 'base'}`, values, expect);
    }
  }
  return out;
}

const SIGN_ME = '\u0000sign-me';

/** Expectations combined: one rejection rejects the request; otherwise anything ambiguous makes it `any`. */
function combine(base: Expectation, variation: Expectation): Expectation {
  if (variation === 'reject' || base === 'reject') return 'reject';
  if (variation === 'any' || base === 'any') return 'any';
  return 'success';
}

function firstValid(param: Param): string {
  const s = param.schema;
  if (Array.isArray(s.enum)) return String(s.enum[0]);
  if (s.type === 'integer' || s.type === 'number') return String(s.minimum ?? 1);
  if (s.type === 'boolean') return 'true';
  if (s.format === 'date-time') return '2024-03-01T00:00:00Z';
  return 'a';
}

/** Valid values of the parameters that need real ones (ids of seeded rows, a shop name, the webhook headers). */
function validParamValues(op: Operation, f: FuzzFixture): Record<string, string | undefined> {
  const ids: Record<string, number> = {
    getProduct: f.ids.product,
    getOrder: f.ids.order,
    getCustomer: f.ids.customer,
    getInventoryItemLevels: f.ids.inventoryItem,
    adminStartSync: f.ids.integration,
    adminRevokeApiKey: f.ids.victimApiKey,
    getWebhookEndpoint: f.ids.webhookEndpoint,
    updateWebhookEndpoint: f.ids.webhookEndpoint,
    deleteWebhookEndpoint: f.ids.webhookEndpoint,
    rotateWebhookEndpointSecret: f.ids.webhookEndpoint,
    listWebhookDeliveryAttempts: f.ids.webhookEndpoint,
    listWebhookDeadLetters: f.ids.webhookEndpoint,
    replayWebhookDeadLetters: f.ids.webhookEndpoint,
  };
  const values: Record<string, string | undefined> = {
    shop: op.id === 'initiateOAuth' ? 'fuzz-new.myshopify.com' : f.shop,
    code: 'fuzz-code',
    hmac: 'ab'.repeat(32),
    state: 'fuzz-state',
    timestamp: String(Math.floor(Date.now() / 1000)),
    host: 'YWRtaW4uc2hvcGlmeS5jb20',
    limit: '2',
    customer_id: String(f.ids.customerOfOrders),
    location_id: String(f.ids.location),
    tenant_id: 'fuzz-a',
    resource: 'products',
    'X-Shopify-Topic': 'products/update',
    'X-Shopify-Hmac-Sha256': SIGN_ME,
    'X-Shopify-Shop-Domain': f.shop,
    'X-Shopify-Webhook-Id': 'fuzz-webhook',
    'X-Shopify-API-Version': '2026-10',
    'X-Shopify-Triggered-At': '2024-03-01T00:00:00Z',
  };
  if (ids[op.id] !== undefined) values.id = String(ids[op.id]);
  return values;
}

function validBodyProps(opId: string): Record<string, unknown> {
  if (opId === 'connectStore') return { shop_domain: 'fuzz-nowhere.myshopify.com', access_token: 'shpat_fuzz_not_a_token', webhook_secret: 'fuzz-secret' };
  if (opId === 'adminCreateApiKey') return { tenant_id: 'fuzz-created', name: 'fuzz' };
  if (opId === 'putMapping') return { expression: 'id' };
  // A public address literal passes the URL check without a lookup; the fuzz test runs no worker, so nothing is sent.
  if (opId === 'createWebhookEndpoint') return { url: 'https://93.184.215.14/fuzz', event_types: ['product.updated', 'product.created', 'order.updated', 'order.created'] };
  if (opId === 'updateWebhookEndpoint') return { description: 'fuzz', event_types: ['product.updated', 'product.created', 'order.updated', 'order.created'] };
  return {};
}

/**
 * Webhook headers: the ingest route reads them itself (HMAC first, then topic and shop). Values that
 * still verify (they are not covered by the HMAC) may be accepted or ignored; a bad HMAC or shop never.
 */
function webhookHeaderCases(param: Param, valid: string | undefined): Case[] {
  const cases: Case[] = [];
  const add = (value: string, expect: Expectation, note: string) => cases.push({ value, expect, note });
  const max = param.schema.maxLength ?? 128;
  if (valid !== undefined && valid !== SIGN_ME) add(valid, 'success', 'valid');
  add('', param.required ? 'reject' : 'any', 'empty');
  add('a'.repeat(max + 1), 'reject', 'maxLength + 1');
  const hostile: Expectation = param.name === 'X-Shopify-Hmac-Sha256' || param.name === 'X-Shopify-Shop-Domain' ? 'reject' : 'any';
  for (const h of HOSTILE_STRINGS) add(h.value, h.value.length > max ? 'reject' : hostile, h.note);
  if (param.name === 'X-Shopify-Shop-Domain')
    for (const v of ['other-shop.myshopify.com', 'FUZZ-A.MYSHOPIFY.COM', 'fuzz-a.myshopify.com.evil.com', 'evil.com']) add(v, v.toLowerCase() === valid ? 'success' : 'reject', `shop ${v}`);
  if (param.name === 'X-Shopify-Topic') for (const v of ['orders/create', 'app/uninstalled', 'unknown/topic', 'PRODUCTS/UPDATE']) add(v, 'any', `topic ${v}`);
  if (param.name === 'X-Shopify-Triggered-At') for (const v of ['not a date', '1700000000', '2024-03-01T00:00:00+05:30']) add(v, 'success', `triggered ${v}`);
  return cases;
}
