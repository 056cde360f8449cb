import { expect } from 'chai';
import {
  backoffDelayMs,
  HALF_JITTER,
  mysqlConflict,
  NO_JITTER,
  pageWrite,
  redisReconnect,
  shopifyHttp,
  streamRead,
  syncJob,
  tokenRefresh,
  webhookApply,
  type RetryPolicy,
} from '../../src/platform/retry-policies.js';

const LOW = () => 0;
const HIGH = () => 0.999999;
const delays = (policy: RetryPolicy, retries: number, random: () => number) => Array.from({ length: retries }, (_, r) => policy.delayMs(r, random));

describe('retry policies', () => {
  describe('backoffDelayMs', () => {
    it('when the random share is fixed, then the delay doubles per retry up to the cap', () => {
      const backoff = { baseMs: 100, capMs: 1000, jitter: NO_JITTER };
      expect([0, 1, 2, 3, 4, 5].map((r) => backoffDelayMs(r, backoff, LOW))).to.deep.equal([100, 200, 400, 800, 1000, 1000]);
    });

    it('when jitter is half, then the delay lies between half and all of the capped exponential', () => {
      const backoff = { baseMs: 100, capMs: 1000, jitter: HALF_JITTER };
      expect(backoffDelayMs(2, backoff, LOW)).to.equal(200);
      expect(backoffDelayMs(2, backoff, () => 0.5)).to.equal(300);
      expect(backoffDelayMs(2, backoff, HIGH)).to.equal(400);
      // At the cap the jitter still spreads callers out.
      expect(backoffDelayMs(30, backoff, LOW)).to.equal(500);
      expect(backoffDelayMs(30, backoff, HIGH)).to.equal(1000);
    });

    it('when jitter adds to the delay, then the cap still bounds it', () => {
      expect(backoffDelayMs(3, { baseMs: 1000, capMs: 9000, jitter: { from: 1, to: 1.25 } }, HIGH)).to.equal(9000);
    });

    it('when the retry number is huge, then the delay stays finite and capped', () => {
      expect(backoffDelayMs(10_000, { baseMs: 1, capMs: 5000, jitter: NO_JITTER }, LOW)).to.equal(5000);
      expect(backoffDelayMs(-1, { baseMs: 10, capMs: 5000, jitter: NO_JITTER }, LOW)).to.equal(10);
    });
  });

  describe('shopifyHttp', () => {
    const policy = shopifyHttp({ maxRetryAttempts: 5, retryDelaySeconds: 1 });

    it('when SHOPIFY_RETRY_DELAY is 1 s, then retries wait 1, 2, 4, 8, 16 s plus at most a quarter', () => {
      expect(delays(policy, 5, LOW)).to.deep.equal([1000, 2000, 4000, 8000, 16_000]);
      delays(policy, 5, HIGH).forEach((ms, r) => expect(ms).to.be.within(1000 * 2 ** r, 1250 * 2 ** r));
    });

    it('when retries pile up, then no wait exceeds a minute', () => {
      expect(policy.delayMs(10, HIGH)).to.equal(60_000);
    });

    it('when SHOPIFY_MAX_RETRY_ATTEMPTS is set, then it is the 5xx budget and 429s get a larger one', () => {
      expect(policy.maxRetries).to.equal(5);
      expect(policy.maxThrottleRetries).to.equal(20);
      expect(shopifyHttp({ maxRetryAttempts: 30, retryDelaySeconds: 1 }).maxThrottleRetries).to.equal(60);
    });

    it('when a caller overrides numbers, then the delays follow them', () => {
      const fast = shopifyHttp({ maxRetryAttempts: 5, retryDelaySeconds: 1 }, { baseMs: 10, capMs: 50 });
      expect(delays(fast, 4, LOW)).to.deep.equal([10, 20, 40, 50]);
    });
  });

  describe('tokenRefresh', () => {
    it('when a renewal answer is lost, then it is retried after SHOPIFY_RETRY_DELAY doubled, without jitter', () => {
      const policy = tokenRefresh({ maxRetryAttempts: 5, retryDelaySeconds: 1 });
      expect(policy.maxRetries).to.equal(4);
      expect(delays(policy, 4, LOW)).to.deep.equal([1000, 2000, 4000, 8000]);
      expect(delays(policy, 4, HIGH)).to.deep.equal([1000, 2000, 4000, 8000]);
    });

    it('when SHOPIFY_MAX_RETRY_ATTEMPTS is 0, then the renewal is still tried once', () => {
      expect(tokenRefresh({ maxRetryAttempts: 0, retryDelaySeconds: 1 }).maxRetries).to.equal(0);
    });
  });

  describe('syncJob', () => {
    it('when SYNC_JOB_BACKOFF_SECONDS is 30, then the delays are those of BullMQ exponential with delay 30 s', () => {
      const policy = syncJob({ jobAttempts: 5, jobBackoffSeconds: 30 });
      expect(policy.maxRetries).to.equal(4);
      expect(policy.baseMs).to.equal(30_000);
      // BullMQ: delay * 2^(attemptsMade - 1), attemptsMade counting the failed attempts (1 for the first retry).
      const bullmq = [1, 2, 3, 4].map((attemptsMade) => Math.round(2 ** (attemptsMade - 1) * policy.baseMs));
      expect(delays(policy, 4, LOW)).to.deep.equal(bullmq);
      expect(delays(policy, 4, HIGH)).to.deep.equal(bullmq);
    });
  });

  describe('webhook and stream policies', () => {
    it('when MySQL is unavailable for a webhook batch, then waits grow from 100-200 ms to 2.5-5 s and never stop', () => {
      expect(webhookApply.maxRetries).to.equal(Number.POSITIVE_INFINITY);
      expect(webhookApply.delayMs(0, LOW)).to.equal(100);
      expect(webhookApply.delayMs(0, HIGH)).to.equal(200);
      expect(webhookApply.delayMs(50, LOW)).to.equal(2500);
      expect(webhookApply.delayMs(50, HIGH)).to.equal(5000);
    });

    it('when a lock conflicts, then 8 short retries for a webhook batch and 2 for a sync page, 5 to 200 ms each', () => {
      expect(mysqlConflict.maxRetries).to.equal(8);
      expect(pageWrite.maxRetries).to.equal(2);
      for (const policy of [mysqlConflict, pageWrite]) {
        expect(delays(policy, 8, HIGH)).to.deep.equal([10, 20, 40, 80, 160, 200, 200, 200]);
        expect(delays(policy, 8, LOW)).to.deep.equal([5, 10, 20, 40, 80, 100, 100, 100]);
      }
    });

    it('when the stream read fails, then the consumer waits 100 ms to 5 s', () => {
      expect(streamRead.delayMs(0, LOW)).to.equal(100);
      expect(streamRead.delayMs(20, HIGH)).to.equal(5000);
      expect(streamRead.maxRetries).to.equal(Number.POSITIVE_INFINITY);
    });

    it('when Redis reconnects, then 50 ms doubling up to 2 s', () => {
      expect(delays(redisReconnect, 7, HIGH)).to.deep.equal([50, 100, 200, 400, 800, 1600, 2000]);
    });
  });
});
