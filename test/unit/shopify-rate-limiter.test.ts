import { expect } from 'chai';
import { bucketStep, parseCallLimit, type BucketState } from '../../src/shopify/rate-limiter.js';

describe('Shopify rate limiter arithmetic', () => {
  it('when the call-limit header is "32/40", then used and limit are read; otherwise nothing', () => {
    expect(parseCallLimit('32/40')).to.deep.equal({ used: 32, limit: 40 });
    expect(parseCallLimit(' 1 / 400 ')).to.deep.equal({ used: 1, limit: 400 });
    for (const v of [null, undefined, '', '32', 'a/b', '3/0']) expect(parseCallLimit(v), String(v)).to.equal(undefined);
  });

  it('when the bucket has room, then acquire takes a slot at once', () => {
    let state: BucketState | undefined;
    for (let i = 0; i < 38; i++) {
      const step = bucketStep(state, 1000, 38, 2, { op: 'acquire' });
      expect(step.waitMs).to.equal(0);
      state = step.state;
    }
    expect(state?.level).to.equal(38);
  });

  it('when the bucket is full, then acquire answers the time for one slot to leak and takes nothing', () => {
    const step = bucketStep({ level: 38, ts: 1000 }, 1000, 38, 2, { op: 'acquire' });
    expect(step.waitMs).to.equal(500);
    expect(step.state.level).to.equal(38);
    const later = bucketStep(step.state, 1500, 38, 2, { op: 'acquire' });
    expect(later.waitMs).to.equal(0);
  });

  it('when Shopify reports more than our count, then our level rises to it; never down', () => {
    expect(bucketStep({ level: 10, ts: 0 }, 0, 38, 2, { op: 'observe', level: 38 }).state.level).to.equal(38);
    expect(bucketStep({ level: 10, ts: 0 }, 0, 38, 2, { op: 'observe', level: 4 }).state.level).to.equal(10);
  });

  it('when a 429 was seen, then the next slot opens only after Retry-After', () => {
    const step = bucketStep({ level: 0, ts: 0 }, 0, 38, 2, { op: 'throttled', retryAfterMs: 2000 });
    expect(bucketStep(step.state, 0, 38, 2, { op: 'acquire' }).waitMs).to.equal(2000);
    expect(bucketStep(step.state, 2000, 38, 2, { op: 'acquire' }).waitMs).to.equal(0);
  });
});
