import { expect } from 'chai';

/**
 * A merchant's browser with its own cookie jar (fetch keeps none): cookies the service sets are sent back
 * to it, and URLs of the public base (SHOPIFY_WEBHOOK_BASE_URL) are reached at the test server.
 */
export class OAuthBrowser {
  readonly cookies = new Map<string, string>();
  readonly setCookies: string[] = [];

  constructor(
    private readonly serviceUrl: string,
    private readonly publicBaseUrl: string,
  ) {}

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const target = url.startsWith(this.publicBaseUrl) ? this.serviceUrl + url.slice(this.publicBaseUrl.length) : url;
    const ours = target.startsWith(this.serviceUrl);
    const headers = new Headers(init.headers);
    if (ours && this.cookies.size > 0) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(target, { ...init, headers, redirect: 'manual' });
    if (ours) {
      for (const line of res.headers.getSetCookie()) {
        this.setCookies.push(line);
        const [pair] = line.split(';');
        const eq = pair!.indexOf('=');
        const name = pair!.slice(0, eq);
        if (/max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
        else this.cookies.set(name, pair!.slice(eq + 1));
      }
    }
    return res;
  }

  postForm(url: string, form: Record<string, string>): Promise<Response> {
    return this.fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
  }

  /** Opens the confirmation page the install link leads to: the answer, the page and its form's nonce. */
  async openPage(link: string) {
    const res = await this.fetch(link);
    const html = await res.text();
    return { res, html, nonce: /name="nonce" value="([^"]+)"/.exec(html)?.[1] ?? '' };
  }

  /** The merchant confirms on the page: the answer is Shopify's authorize URL, and this browser holds the install cookie. */
  async confirm(link: string): Promise<string> {
    const { res, nonce } = await this.openPage(link);
    expect(res.status).to.equal(200);
    const state = new URL(link).searchParams.get('state')!;
    const confirmed = await this.postForm(`${this.serviceUrl}/api/shopify/oauth/begin/`, { state, nonce });
    expect(confirmed.status, await confirmed.clone().text()).to.equal(303);
    return confirmed.headers.get('location')!;
  }

  /** Confirms, then approves at (mock) Shopify: the callback query Shopify sends this browser back with. */
  async approve(link: string): Promise<string> {
    const res = await fetch(await this.confirm(link), { redirect: 'manual' });
    expect(res.status).to.equal(302);
    return new URL(res.headers.get('location')!).search;
  }
}
