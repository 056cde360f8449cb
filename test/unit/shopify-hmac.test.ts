import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { signWebhookBody, verifyWebhookHmac } from '../../src/shopify/hmac.js';

const body = Buffer.from('{"id":8000000000001,"title":"Mug","updated_at":"2024-03-01T07:00:00-05:00"}');
const header = createHmac('sha256', 'app-secret').update(body).digest('base64');

describe('Shopify webhook HMAC', () => {
  it('when the header is the base64 HMAC of the raw body with the secret, then it verifies', () => {
    expect(verifyWebhookHmac(body, header, ['app-secret'])).to.equal(true);
    expect(signWebhookBody(body, 'app-secret')).to.equal(header);
  });

  it('when one of several secrets (app secret, store secret, previous secret) matches, then it verifies', () => {
    expect(verifyWebhookHmac(body, header, ['store-secret', '', 'app-secret'])).to.equal(true);
  });

  it('when the body was changed by one byte, then it does not verify', () => {
    const tampered = Buffer.from(body.toString().replace('Mug', 'Mud'));
    expect(verifyWebhookHmac(tampered, header, ['app-secret'])).to.equal(false);
  });

  it('when the body was re-serialized (whitespace), then it does not verify: only raw bytes count', () => {
    const reformatted = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 1));
    expect(verifyWebhookHmac(reformatted, header, ['app-secret'])).to.equal(false);
  });

  it('when the secret is wrong or there are no secrets, then it does not verify', () => {
    expect(verifyWebhookHmac(body, header, ['other'])).to.equal(false);
    expect(verifyWebhookHmac(body, header, [])).to.equal(false);
    expect(verifyWebhookHmac(body, header, [''])).to.equal(false);
  });

  it('when the header is missing, empty, hex or garbage, then it does not verify', () => {
    const hex = createHmac('sha256', 'app-secret').update(body).digest('hex');
    for (const value of [undefined, '', hex, 'not base64!', header.slice(0, 20)]) expect(verifyWebhookHmac(body, value, ['app-secret']), String(value)).to.equal(false);
  });
});
