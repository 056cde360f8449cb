import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import type { MockShopify } from '../../scripts/mock-shopify/index.js';
import { openAccessToken, openRefreshToken } from '../../src/store/integration-secrets.js';
import type { Integration } from '../../src/store/schema.js';
import type { TestContext } from './context.js';
import { call } from './http.js';
import { OAuthBrowser } from './oauth-browser.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const HOOKS = 'https://hooks.example.test';

/** The whole OAuth install of `shop` for `tenant` (initiate, confirm, approve, callback): the tenant's key and the saved row. */
export async function installThroughOAuth(t: TestContext, tenant: string, shop: string): Promise<{ key: string; integration: Integration }> {
  const key = await t.keyFor(tenant);
  const initiated = await call(t.url, 'GET', `/api/shopify/oauth/initiate/?shop=${shop}`, { key });
  expect(initiated.status, initiated.text).to.equal(200);
  const browser = new OAuthBrowser(t.url, HOOKS);
  const search = await browser.approve(initiated.body.authorize_url);
  const cookie = [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const installed = await call(t.url, 'GET', `/api/shopify/oauth/callback/${search}`, { headers: { cookie } });
  expect(installed.status, installed.text).to.equal(201);
  const integration = await t.ctx.db.selectFrom('shopify_integrations').selectAll().where('tenant_id', '=', tenant).executeTakeFirstOrThrow();
  return { key, integration };
}

/** The pair the row holds, opened. */
export async function storedPair(t: TestContext, id: number): Promise<{ access: string; refresh: string | null; row: Integration }> {
  const row = await t.ctx.db.selectFrom('shopify_integrations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const refresh = row.refresh_token_encrypted ? openRefreshToken(t.ctx.secrets, { ...row, refresh_token_encrypted: row.refresh_token_encrypted }) : null;
  return { access: openAccessToken(t.ctx.secrets, row), refresh, row };
}

/** Whether the row holds exactly the pair the mock Shopify holds for the shop now (no pair lost). */
export async function expectStoredPairIsShopifys(t: TestContext, mock: MockShopify, id: number, shop: string): Promise<void> {
  const stored = await storedPair(t, id);
  expect(mock.tokens.currentPair(shop), 'the pair Shopify holds').to.deep.equal({ access: stored.access, refresh: stored.refresh });
  expect(mock.shop(shop).acceptsToken(stored.access)).to.equal(true);
}

export interface RenewalChild {
  child: ChildProcess;
  ready: Promise<void>;
  result: Promise<{ ok: boolean; error?: string }>;
  go(): void;
}

/** `test/support/token-renewal-child.ts` in its own process, sharing the context's database and Redis prefix. */
export function startRenewalChild(env: Record<string, string>): RenewalChild {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/token-renewal-child.ts'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  let onLine: (line: string) => void = () => undefined;
  const take = (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      onLine(line);
    }
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    onLine = (line) => line === 'ready' && resolve();
    void exited.then(() => reject(new Error(`child exited before it was ready:\n${lines.slice(-20).join('\n')}`)));
  });
  const result = exited.then(() => {
    const last = lines.filter((l) => l.startsWith('{"ok"')).pop();
    return last ? (JSON.parse(last) as { ok: boolean; error?: string }) : { ok: false, error: `no result (killed?):\n${lines.slice(-10).join('\n')}` };
  });
  return { child, ready, result, go: () => child.stdin!.write('go\n') };
}

/** Blocks this thread (the in-process mock Shopify with it) for `ms`: a killed caller is gone before the mock answers. */
export function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
