/**
 * The Swagger UI part of `make check-newcomer`: in headless Chromium, authorize with a tenant key, open
 * "List products", press Try it out and Execute without touching a field, and check that the request
 * carried no filter and the answer is the same unfiltered first page the API gives.
 *
 *   tsx scripts/check-newcomer-docs.ts --url http://127.0.0.1:3000 --key sk_… [--screenshot FILE]
 *
 * Needs CHROMIUM and PLAYWRIGHT_CORE (scripts/chromium-tools.sh provides both).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** The part of playwright-core's API used here (it is loaded from outside the project, untyped). */
interface Page {
  goto(url: string, opts: { waitUntil: 'networkidle' }): Promise<unknown>;
  waitForSelector(selector: string, opts: { timeout: number }): Promise<unknown>;
  click(selector: string): Promise<void>;
  fill(selector: string, value: string): Promise<void>;
  inputValue(selector: string): Promise<string>;
  textContent(selector: string): Promise<string | null>;
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

const OPERATION = '#operations-Products-listProducts';
const FILTERS = ['updated_at_min', 'updated_at_max', 'status', 'vendor', 'product_type', 'handle', 'cursor'];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { url: { type: 'string' }, key: { type: 'string' }, screenshot: { type: 'string', default: join(tmpdir(), 'newcomer-try-it-out.png') } } });
  if (!values.url || !values.key) throw new Error('usage: check-newcomer-docs.ts --url URL --key KEY');
  const base = values.url.replace(/\/+$/, '');
  const expected = (await (await fetch(`${base}/api/shopify/products/`, { headers: { authorization: `Bearer ${values.key}` } })).json()) as { data: { id: number }[] };

  const { chromium } = (await import(pathToFileURL(join(process.env.PLAYWRIGHT_CORE ?? '', 'index.mjs')).href)) as PlaywrightCore;
  const profile = await mkdtemp(join(tmpdir(), 'check-newcomer-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    viewport: { width: 1280, height: 900 },
  });
  const failures: string[] = [];
  try {
    const page = await browser.newPage();
    await page.goto(`${base}/docs/`, { waitUntil: 'networkidle' });
    await page.waitForSelector('.opblock-tag', { timeout: 15_000 });

    await page.click('button.authorize');
    const scheme = '.dialog-ux .auth-container:has(h4:has-text("ApiKey"))';
    await page.fill(`${scheme} input`, values.key);
    await page.click(`${scheme} button.authorize`);
    await page.click('.dialog-ux button.close-modal');

    await page.click(`${OPERATION} .opblock-summary-control`);
    await page.click(`${OPERATION} button.try-out__btn`);
    for (const name of FILTERS) {
      const value = await page.inputValue(`${OPERATION} tr[data-param-name="${name}"] input`).catch(() => '');
      if (value !== '') failures.push(`Try it out pre-fills the filter ${name} with "${value}"`);
    }
    await page.click(`${OPERATION} button.execute`);
    await page.waitForSelector(`${OPERATION} .live-responses-table tbody .response-col_status`, { timeout: 15_000 });
    const status = (await page.textContent(`${OPERATION} .live-responses-table tbody .response-col_status`))?.trim();
    const requestUrl = (await page.textContent(`${OPERATION} .request-url pre`))?.trim() ?? '';
    const body = (await page.textContent(`${OPERATION} .live-responses-table tbody .response-col_description pre`)) ?? '';
    await page.screenshot({ path: values.screenshot!, fullPage: false });

    if (status !== '200') failures.push(`Execute answered ${status ?? 'nothing'}`);
    const sent = new URL(requestUrl, base).searchParams;
    for (const name of FILTERS) if (sent.has(name)) failures.push(`the request carried the filter ${name}=${sent.get(name)}`);
    let shown: { data: { id: number }[] } | undefined;
    try {
      shown = JSON.parse(body) as { data: { id: number }[] };
    } catch {
      failures.push('the response body shown is not JSON');
    }
    if (shown) {
      const ids = (list: { id: number }[]) => list.map((p) => p.id).join(',');
      if (ids(shown.data) !== ids(expected.data)) failures.push(`Try it out listed ${shown.data.length} products, the API's unfiltered first page has ${expected.data.length} (other ids)`);
    }
    console.log(`Swagger UI Try it out on List products: ${requestUrl} → ${status}, ${shown?.data.length ?? '?'} products (API: ${expected.data.length}); screenshot ${values.screenshot}`);
  } finally {
    await browser.close();
    await rm(profile, { recursive: true, force: true });
  }
  if (failures.length > 0) {
    console.error(`Swagger UI check failed:\n- ${failures.join('\n- ')}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
