import { createHash } from 'node:crypto';

/**
 * The merchant's confirmation page of an OAuth install: one self-contained HTML document (no script,
 * no external asset) whose only action is a same-origin form POST.
 */
const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}' +
  'code{background:#f2f2f2;padding:0 .25rem;border-radius:3px}button{font:inherit;padding:.5rem 1.25rem;cursor:pointer}' +
  '.note{color:#555;font-size:.9rem}';
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

export interface ConfirmationPage {
  shop: string;
  tenantId: string;
  state: string;
  nonce: string;
  /** Where the form posts (our own begin route). */
  action: string;
  expiresAt: Date;
}

export function renderConfirmationPage(page: ConfirmationPage): string {
  const shop = escapeHtml(page.shop);
  const tenant = escapeHtml(page.tenantId);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Connect ${shop}?</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Connect your Shopify store?</h1>
<p>The store <code>${shop}</code> is about to be connected to the account <code>${tenant}</code>.
That account will be able to read the store's products, orders, customers and inventory.</p>
<p>Continue only if you started this yourself, from the account <code>${tenant}</code>. If someone sent
you this link, close this page: nothing is connected unless you confirm.</p>
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="state" value="${escapeHtml(page.state)}">
<input type="hidden" name="nonce" value="${escapeHtml(page.nonce)}">
<button type="submit">Connect ${shop} to ${tenant}</button>
</form>
<p class="note">Shopify will ask you to approve the access next. This page expires at ${escapeHtml(page.expiresAt.toISOString())}.</p>
</body>
</html>
`;
}

/**
 * The page's own CSP: nothing loads, it is never framed, and its form may go only to us and, through
 * our 303, to the shop's authorize page (browsers apply form-action to the redirect too).
 */
export function confirmationPageCsp(shopOrigin: string): string {
  return ["default-src 'none'", `style-src 'sha256-${STYLE_HASH}'`, `form-action 'self' ${shopOrigin}`, "frame-ancestors 'none'", "base-uri 'none'"].join('; ');
}
