import { expect } from 'chai';
import { pointsStep, throttleWaitMs, type PointsState } from '../../src/shopify/graphql/cost-limiter.js';

const standard = { max: 2000, rate: 100 };

describe('GraphQL cost limiter arithmetic (fake clock)', () => {
  it('when the bucket is new, then it is full at the assumed plan and a reservation takes its cost at once', () => {
    const step = pointsStep(undefined, 0, standard, { op: 'reserve', cost: 752 });
    expect(step.waitMs).to.equal(0);
    expect(step.state.available).to.equal(1248);
  });

  it('when the bucket lacks points, then the wait is exactly what the restore rate needs and nothing is taken', () => {
    const state: PointsState = { available: 150, ts: 0, max: 2000, rate: 100 };
    const step = pointsStep(state, 0, standard, { op: 'reserve', cost: 1000 });
    expect(step.waitMs).to.equal(8500);
    expect(step.state.available).to.equal(150);
    expect(pointsStep(step.state, 8499, standard, { op: 'reserve', cost: 1000 }).waitMs).to.equal(1);
    const later = pointsStep(step.state, 8500, standard, { op: 'reserve', cost: 1000 });
    expect(later.waitMs).to.equal(0);
    expect(later.state.available).to.equal(0);
  });

  it('when a query settles, then the unspent part of its reservation is refunded, up to the maximum', () => {
    const reserved = pointsStep(undefined, 0, standard, { op: 'reserve', cost: 1000 }).state;
    const settled = pointsStep(reserved, 0, standard, { op: 'settle', refund: 1000 - 37 });
    expect(settled.state.available).to.equal(1963);
    expect(pointsStep({ ...settled.state }, 100_000, standard, { op: 'settle', refund: 500 }).state.available).to.equal(2000);
  });

  it("when Shopify's throttleStatus shows fewer points, a bigger bucket or another rate, then ours follows; more points never raise ours", () => {
    const ours: PointsState = { available: 1500, ts: 0, max: 2000, rate: 100 };
    const lower = pointsStep(ours, 0, standard, { op: 'settle', refund: 0, seen: { maximumAvailable: 20000, currentlyAvailable: 900, restoreRate: 1000 } });
    expect(lower.state).to.deep.include({ available: 900, max: 20000, rate: 1000 });
    const higher = pointsStep(ours, 0, standard, { op: 'settle', refund: 0, seen: { maximumAvailable: 2000, currentlyAvailable: 1990, restoreRate: 100 } });
    expect(higher.state.available).to.equal(1500);
    // Restored at Shopify's rate from then on: 1,000 points/s.
    expect(pointsStep(lower.state, 1000, standard, { op: 'reserve', cost: 1000 }).state.available).to.equal(900);
  });

  it("when Shopify's count is older than the settle (the answer took time to reach us), then what was restored since is credited, never more than ours", () => {
    const ours: PointsState = { available: 1500, ts: 0, max: 2000, rate: 100 };
    const seen = { maximumAvailable: 2000, currentlyAvailable: 900, restoreRate: 100 };
    // 300 ms after Shopify counted 900: 30 points were restored meanwhile.
    expect(pointsStep(ours, 0, standard, { op: 'settle', refund: 0, seen, ageMs: 300 }).state.available).to.equal(930);
    expect(pointsStep(ours, 0, standard, { op: 'settle', refund: 0, seen }).state.available).to.equal(900);
    // A count far enough back cannot lift ours above what we hold.
    expect(pointsStep(ours, 0, standard, { op: 'settle', refund: 0, seen, ageMs: 60_000 }).state.available).to.equal(1500);
  });

  it('when Shopify answered THROTTLED, then the next reservation waits (requested - available) / restore rate', () => {
    const status = { maximumAvailable: 2000, currentlyAvailable: 300, restoreRate: 100 };
    expect(throttleWaitMs(800, status)).to.equal(5000);
    expect(throttleWaitMs(200, status)).to.equal(0);
    // The limiter refunds the throttled reservation (nothing was charged) and drops to Shopify's count.
    const ours: PointsState = { available: 1200 - 800, ts: 0, max: 2000, rate: 100 };
    const after = pointsStep(ours, 0, standard, { op: 'settle', refund: 800, seen: status });
    expect(after.state.available).to.equal(300);
    expect(pointsStep(after.state, 0, standard, { op: 'reserve', cost: 800 }).waitMs).to.equal(throttleWaitMs(800, status));
  });

  it('when an HTTP 429 asks to wait, then no reservation passes before that time', () => {
    const drained = pointsStep({ available: 2000, ts: 0, max: 2000, rate: 100 }, 0, standard, { op: 'drain', waitMs: 2000 });
    expect(drained.state.available).to.equal(-200);
    expect(pointsStep(drained.state, 0, standard, { op: 'reserve', cost: 100 }).waitMs).to.equal(3000);
    expect(pointsStep(drained.state, 2000, standard, { op: 'reserve', cost: 0 }).waitMs).to.equal(0);
  });
});
