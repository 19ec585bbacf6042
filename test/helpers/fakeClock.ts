// A fake clock for unit tests of TTLs: performance.now and setTimeout are mocked for the test, and advance()
// moves both together.
import type { TestContext } from 'node:test';

export function fakeClock(t: TestContext): { advance(ms: number): void } {
  let now = 1_000_000;
  t.mock.method(performance, 'now', () => now);
  t.mock.timers.enable({ apis: ['setTimeout'] });
  return {
    advance(ms: number) {
      now += ms;
      t.mock.timers.tick(ms);
    },
  };
}
