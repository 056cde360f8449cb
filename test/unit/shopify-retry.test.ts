import { expect } from 'chai';
import sinon from 'sinon';
import { ShopifyClientError, ShopifyRetriableError, ShopifyThrottledError, ShopifyUnauthorizedError, errorForStatus } from '../../src/shopify/errors.js';
import { shopifyHttp } from '../../src/platform/retry-policies.js';
import { decideRetry, parseRetryAfterMs, withRetry } from '../../src/shopify/retry.js';

const policy = shopifyHttp({ maxRetryAttempts: 3, retryDelaySeconds: 1 });
const serverError = () => errorForStatus(503, { method: 'GET', path: '/admin/api/2026-10/products.json' });
const throttled = (ms: number) => errorForStatus(429, { retryAfterMs: ms });

describe('Shopify retry policy', () => {
  describe('delayMs', () => {
    it('when there is no jitter, then the delay is retryDelay * 2^attempt', () => {
      expect([0, 1, 2, 3].map((a) => policy.delayMs(a, () => 0))).to.deep.equal([1000, 2000, 4000, 8000]);
    });

    it('when jitter is drawn, then it adds at most a quarter of the delay', () => {
      expect(policy.delayMs(2, () => 0.999999)).to.be.within(4000, 5000);
      expect(policy.delayMs(2, () => 0.5)).to.equal(4500);
    });

    it('when the exponential delay grows past the cap, then it is capped', () => {
      expect(policy.delayMs(20, () => 0)).to.equal(60_000);
    });
  });

  describe('parseRetryAfterMs', () => {
    it('when Retry-After is fractional seconds, then it is read as milliseconds', () => {
      expect(parseRetryAfterMs('2.0')).to.equal(2000);
      expect(parseRetryAfterMs('0.5')).to.equal(500);
      expect(parseRetryAfterMs(' 1.25 ')).to.equal(1250);
      expect(parseRetryAfterMs('3')).to.equal(3000);
    });

    it('when Retry-After is an HTTP date, then the time until it is used', () => {
      const now = Date.parse('2026-01-01T00:00:00Z');
      expect(parseRetryAfterMs('Thu, 01 Jan 2026 00:00:04 GMT', 2000, now)).to.equal(4000);
    });

    it('when Retry-After is missing or unreadable, then the fallback is used', () => {
      expect(parseRetryAfterMs(null)).to.equal(2000);
      expect(parseRetryAfterMs('soon', 1500)).to.equal(1500);
      expect(parseRetryAfterMs('-1', 1500)).to.equal(1500);
    });
  });

  describe('decideRetry', () => {
    it('when the error is a 5xx within budget, then it is retried after the backoff', () => {
      const d = decideRetry(serverError(), { failures: 1, throttles: 0 }, policy, () => 0);
      expect(d).to.deep.equal({ retry: true, delayMs: 2000, reason: 'retriable' });
    });

    it('when the 5xx budget is spent, then it is not retried', () => {
      expect(decideRetry(serverError(), { failures: 3, throttles: 0 }, policy)).to.deep.equal({ retry: false });
    });

    it('when the error is a 429, then it waits Retry-After and draws on its own budget', () => {
      const d = decideRetry(throttled(1500), { failures: 3, throttles: 0 }, policy);
      expect(d).to.deep.equal({ retry: true, delayMs: 1500, reason: 'throttled' });
      expect(policy.maxThrottleRetries).to.be.greaterThan(policy.maxRetries);
      expect(decideRetry(throttled(1500), { failures: 0, throttles: policy.maxThrottleRetries }, policy)).to.deep.equal({ retry: false });
    });

    it('when the error is another 4xx or not a Shopify error, then it is never retried', () => {
      expect(errorForStatus(404, {}).retriable).to.equal(false);
      for (const e of [errorForStatus(400, {}), errorForStatus(401, {}), errorForStatus(422, {}), new Error('bug')]) {
        expect(decideRetry(e, { failures: 0, throttles: 0 }, policy)).to.deep.equal({ retry: false });
      }
    });
  });

  describe('errorForStatus', () => {
    it('when Shopify answers, then the class tells what a caller may do', () => {
      expect(errorForStatus(503, {})).to.be.instanceOf(ShopifyRetriableError).and.include({ retriable: true, upstreamStatus: 503, status: 502 });
      expect(errorForStatus(429, { retryAfterMs: 500 }))
        .to.be.instanceOf(ShopifyThrottledError)
        .and.include({ retriable: true, retryAfterMs: 500 });
      expect(errorForStatus(401, {})).to.be.instanceOf(ShopifyUnauthorizedError).and.include({ retriable: false, upstreamStatus: 401 });
      expect(errorForStatus(422, { shopifyErrors: { topic: ['invalid'] } }))
        .to.be.instanceOf(ShopifyClientError)
        .and.include({ upstreamStatus: 422 });
    });
  });

  describe('withRetry (fake timers)', () => {
    let clock: sinon.SinonFakeTimers;
    beforeEach(() => {
      clock = sinon.useFakeTimers();
    });
    afterEach(() => clock.restore());

    it('when Shopify fails twice with 503, then the call waits 1 s then 2 s and succeeds', async () => {
      const attempt = sinon.stub();
      attempt.onCall(0).rejects(serverError());
      attempt.onCall(1).rejects(serverError());
      attempt.onCall(2).resolves('ok');
      const result = withRetry(attempt, policy, { random: () => 0 });
      await clock.tickAsync(0);
      expect(attempt.callCount).to.equal(1);
      await clock.tickAsync(999);
      expect(attempt.callCount).to.equal(1);
      await clock.tickAsync(1);
      expect(attempt.callCount).to.equal(2);
      await clock.tickAsync(1999);
      expect(attempt.callCount).to.equal(2);
      await clock.tickAsync(1);
      expect(await result).to.equal('ok');
      expect(attempt.callCount).to.equal(3);
    });

    it('when Shopify answers 429 with Retry-After 2.0, then the call waits exactly 2000 ms', async () => {
      const attempt = sinon.stub();
      attempt.onCall(0).rejects(throttled(parseRetryAfterMs('2.0')));
      attempt.onCall(1).resolves('ok');
      const result = withRetry(attempt, policy);
      await clock.tickAsync(1999);
      expect(attempt.callCount).to.equal(1);
      await clock.tickAsync(1);
      expect(await result).to.equal('ok');
    });

    it('when the 5xx budget runs out, then the last error is thrown after maxRetries retries', async () => {
      const attempt = sinon.stub().rejects(serverError());
      const result = withRetry(attempt, policy, { random: () => 0 }).catch((e: unknown) => e);
      await clock.tickAsync(1000 + 2000 + 4000);
      expect(await result).to.be.instanceOf(ShopifyRetriableError);
      expect(attempt.callCount).to.equal(4);
    });

    it('when the error is a 4xx, then it is thrown at once without sleeping', async () => {
      const attempt = sinon.stub().rejects(errorForStatus(400, {}));
      const onRetry = sinon.spy();
      const error = await withRetry(attempt, policy, { onRetry }).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(ShopifyClientError);
      expect(attempt.callCount).to.equal(1);
      expect(onRetry.called).to.equal(false);
    });
  });
});
