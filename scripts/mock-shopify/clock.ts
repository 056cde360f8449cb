/**
 * The mock's notion of "now". It follows the real clock unless a test sets or advances it, so a
 * scenario can stamp several changes in one second (Shopify's `updated_at` has whole seconds) or let
 * hours pass between a change and a late retry of its webhook without waiting.
 */
export class MockClock {
  private frozenMs: number | undefined;
  private offsetMs = 0;

  now(): number {
    return (this.frozenMs ?? Date.now()) + this.offsetMs;
  }

  /** Stops the clock at `ms` (default: now); only `advance` moves it until `resume`. */
  set(ms: number = this.now()): void {
    this.frozenMs = ms;
    this.offsetMs = 0;
  }

  /** Moves time forward (frozen or not): `advance(4 * 3_600_000)` is "four hours later". */
  advance(ms: number): void {
    if (ms < 0) throw new Error('mock clock: time does not go backwards');
    if (this.frozenMs !== undefined) this.frozenMs += ms;
    else this.offsetMs += ms;
  }

  /** Follows the real clock again (keeping any lead it had, so time never goes backwards). */
  resume(): void {
    if (this.frozenMs === undefined) return;
    this.offsetMs = Math.max(0, this.frozenMs - Date.now());
    this.frozenMs = undefined;
  }
}
