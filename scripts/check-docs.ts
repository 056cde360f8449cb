/**
 * Loads Swagger UI (`/docs`) in a real headless Chromium and checks what an integrator sees: every tag
 * and every operation of the contract rendered, the Authorize button offering both security schemes,
 * no script or CSP errors; saves a screenshot. A loopback URL is also loaded under a non-loopback name.
 * Starts the API itself unless `--url` is given.
 *
 *   tsx scripts/check-docs.ts [--url http://127.0.0.1:3000] [--screenshot /tmp/swagger-ui.png]
 *
 * Needs Debian's chromium (`CHROMIUM`, default /usr/bin/chromium) and playwright-core, which is not a
 * dependency of the service: scripts/check-docs.sh installs it into a scratch directory and passes it
 * as `PLAYWRIGHT_CORE`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { closeContext, createContext } from '../src/main/context.js';
import { startApi } from '../src/main/server.js';

const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** What the page's elements offer here (the project compiles without the DOM library). */
interface DomElement {
  id: string;
  textContent: string | null;
  getAttribute(name: string): string | null;
}

/** The part of playwright-core's API used here (it is loaded from outside the project, untyped). */
interface Page {
  on(event: 'console', fn: (msg: { type(): string; text(): string }) => void): void;
  on(event: 'pageerror', fn: (err: Error) => void): void;
  on(event: 'requestfailed', fn: (req: { url(): string; failure(): { errorText: string } | null }) => void): void;
  goto(url: string, opts: { waitUntil: 'networkidle' }): Promise<{ status(): number; headers(): Record<string, string> } | null>;
  waitForSelector(selector: string, opts: { timeout: number }): Promise<unknown>;
  $$eval<T>(selector: string, fn: (els: DomElement[]) => T): Promise<T>;
  click(selector: string): Promise<void>;
  screenshot(opts: { path: string; fullPage: boolean }): Promise<unknown>;
}
interface PlaywrightCore {
  chromium: {
    launchPersistentContext(
      userDataDir: string,
      opts: { executablePath: string; headless: boolean; args: string[]; viewport: { width: number; height: number } },
    ): Promise<{ newPage(): Promise<Page>; close(): Promise<void> }>;
  };
}

interface Contract {
  tags: { name: string }[];
  paths: Record<string, Record<string, { operationId?: string; tags?: string[] }>>;
  components: { securitySchemes: Record<string, unknown> };
}

async function loadPlaywright(): Promise<PlaywrightCore> {
  const dir = process.env.PLAYWRIGHT_CORE;
  if (!dir) throw new Error('PLAYWRIGHT_CORE is not set: run scripts/check-docs.sh (it installs playwright-core into a scratch directory)');
  return (await import(pathToFileURL(join(dir, 'index.mjs')).href)) as PlaywrightCore;
}

/** The real API on a free port, configured like `npm run start:api` (it needs Redis; /docs reads no database). */
async function startOwnApi(): Promise<{ url: string; stop(): Promise<void> }> {
  const ctx = await createContext(loadConfig({ LOG_LEVEL: 'warn', ...process.env }));
  const api = await startApi(ctx, 0, '127.0.0.1');
  return {
    url: api.url,
    async stop() {
      await api.stop();
      await closeContext(ctx);
    },
  };
}

/**
 * A name that is not loopback, resolved to 127.0.0.1 inside Chromium only: browsers treat http://localhost
 * and http://127.0.0.1 as secure, so checking those alone hides what an integrator reaching the service at
 * http://some-host:3000 sees (e.g. a CSP `upgrade-insecure-requests` turning every asset into https).
 */
const ALIAS_HOST = 'docs-check.test';
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
/** "Failed to load resource" repeats `requestfailed` (which names the URL); the COOP notice is informational on plain HTTP. */
const IGNORED_CONSOLE_ERRORS = /^Failed to load resource|Cross-Origin-Opener-Policy header has been ignored/;

async function checkDocs(baseUrl: string, screenshotPath: string, contract: Contract): Promise<string[]> {
  const { chromium } = await loadPlaywright();
  const profile = await mkdtemp(join(tmpdir(), 'check-docs-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_FLAGS, `--host-resolver-rules=MAP ${ALIAS_HOST} 127.0.0.1`],
    viewport: { width: 1280, height: 900 },
  });
  try {
    const failures = await checkPage(await browser.newPage(), baseUrl, screenshotPath, contract);
    const url = new URL(baseUrl);
    if (LOOPBACK.has(url.hostname)) {
      url.hostname = ALIAS_HOST;
      const aliasFailures = await checkPage(await browser.newPage(), url.origin, screenshotPath.replace(/(\.png)?$/, '-hostname.png'), contract);
      failures.push(...aliasFailures.map((f) => `as http://${ALIAS_HOST}:${url.port} (not loopback): ${f}`));
    }
    return failures;
  } finally {
    await browser.close();
    await rm(profile, { recursive: true, force: true });
  }
}

async function checkPage(page: Page, baseUrl: string, screenshotPath: string, contract: Contract): Promise<string[]> {
  const failures: string[] = [];
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !IGNORED_CONSOLE_ERRORS.test(msg.text())) errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => errors.push(`request failed: ${req.url()} (${req.failure()?.errorText ?? 'no answer'})`));

  const res = await page.goto(`${baseUrl}/docs/`, { waitUntil: 'networkidle' });
  if (res?.status() !== 200) failures.push(`/docs/ answered ${res?.status() ?? 'nothing'}`);
  const csp = res?.headers()['content-security-policy'];
  if (csp) console.log(`note: ${baseUrl}/docs/ is served with a Content-Security-Policy: ${csp}`);
  const rendered = await page.waitForSelector('.opblock-tag', { timeout: 15_000 }).then(
    () => true,
    () => false,
  );
  if (!rendered) {
    await page.screenshot({ path: screenshotPath, fullPage: false });
    console.log(`${baseUrl}/docs/: nothing rendered; screenshot ${screenshotPath}`);
    const cause =
      csp?.includes('upgrade-insecure-requests') && baseUrl.startsWith('http:')
        ? [
            "likely cause: the page's CSP says upgrade-insecure-requests, so a browser on a plain-HTTP, non-localhost origin fetches Swagger UI's assets over https (helmet: contentSecurityPolicy.directives.upgradeInsecureRequests = null)",
          ]
        : [];
    return ['Swagger UI rendered nothing within 15 s (no tag, no operation, no Authorize button)', ...cause, ...errors];
  }

  const renderedTags = await page.$$eval('.opblock-tag', (els) => els.map((el) => el.getAttribute('data-tag') ?? ''));
  for (const tag of contract.tags.map((t) => t.name)) if (!renderedTags.includes(tag)) failures.push(`tag "${tag}" is not rendered`);

  const blockIds = await page.$$eval('.opblock[id]', (els) => els.map((el) => el.id));
  const missingOps = operations(contract).filter(({ operationId, tag }) => !blockIds.includes(`operations-${tag}-${operationId}`));
  if (missingOps.length > 0) failures.push(`operations not rendered: ${missingOps.map((o) => o.operationId).join(', ')}`);

  const authorize = await page.$$eval('button.authorize', (els) => els.length);
  if (authorize === 0) {
    failures.push('the Authorize button is missing');
  } else {
    await page.click('button.authorize');
    await page.waitForSelector('.dialog-ux .auth-container', { timeout: 5_000 }).catch(() => failures.push('the Authorize dialog did not open'));
    const schemes = await page.$$eval('.dialog-ux .auth-container h4', (els) => els.map((el) => el.textContent ?? ''));
    for (const name of Object.keys(contract.components.securitySchemes)) {
      if (!schemes.some((s) => s.includes(name))) failures.push(`the Authorize dialog does not offer ${name}`);
    }
    if (schemes.length > 0) await page.click('.dialog-ux button.close-modal');
  }

  await page.screenshot({ path: screenshotPath, fullPage: false });
  console.log(`${baseUrl}/docs/: ${renderedTags.length} tags, ${blockIds.length} operations, Authorize button: ${authorize > 0 ? 'yes' : 'no'}; screenshot ${screenshotPath}`);
  return [...failures, ...errors];
}

function operations(contract: Contract): { operationId: string; tag: string }[] {
  return Object.values(contract.paths).flatMap((item) => Object.values(item).flatMap((op) => (op.operationId ? [{ operationId: op.operationId, tag: op.tags?.[0] ?? 'default' }] : [])));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { url: { type: 'string' }, screenshot: { type: 'string', default: join(tmpdir(), 'swagger-ui.png') } } });
  const contract = JSON.parse(await readFile(new URL('../src/generated/openapi.json', import.meta.url), 'utf8')) as Contract;
  const own = values.url ? undefined : await startOwnApi();
  try {
    const failures = await checkDocs((values.url ?? own!.url).replace(/\/+$/, ''), values.screenshot!, contract);
    if (failures.length > 0) {
      console.error(`Swagger UI check failed:\n- ${failures.join('\n- ')}`);
      process.exitCode = 1;
    } else {
      console.log('Swagger UI renders every tag and operation of the contract, with the Authorize button');
    }
  } finally {
    await own?.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
