// PresenceLeases (src/primary/presenceLeases.ts): a dropped socket's presence leave waits for the lease, runs
// at once when its member joins again with another socket, and runs at close() (the host stopping).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PresenceLeases } from '../../src/primary/presenceLeases.ts';

test('a held leave runs when its lease ends, not before', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const leases = new PresenceLeases();
  const left: string[] = [];
  leases.hold(0, 'presence-a', 'u', '1.1', 15_000, () => left.push('1.1'));
  t.mock.timers.tick(14_999);
  assert.deepEqual(left, []);
  assert.equal(leases.size, 1);
  t.mock.timers.tick(1);
  assert.deepEqual(left, ['1.1']);
  assert.equal(leases.size, 0);
});

test('a rejoin of the same member in the same channel runs its held leaves at once, and only those', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const leases = new PresenceLeases();
  const left: string[] = [];
  leases.hold(0, 'presence-a', 'u', '1.1', 15_000, () => left.push('a:u:1.1'));
  leases.hold(0, 'presence-a', 'u', '1.2', 15_000, () => left.push('a:u:1.2'));
  leases.hold(0, 'presence-a', 'v', '1.3', 15_000, () => left.push('a:v:1.3'));
  leases.hold(0, 'presence-b', 'u', '1.1', 15_000, () => left.push('b:u:1.1'));
  leases.hold(1, 'presence-a', 'u', '1.4', 15_000, () => left.push('app1:a:u:1.4'));
  leases.takeOver(0, 'presence-a', 'u', '2.1');
  assert.deepEqual(left, ['a:u:1.1', 'a:u:1.2']);
  t.mock.timers.tick(15_000);
  assert.deepEqual(left, ['a:u:1.1', 'a:u:1.2', 'a:v:1.3', 'b:u:1.1', 'app1:a:u:1.4'], 'the taken-over leaves do not run twice');
});

test('close() runs every held leave now, and later drops are not held', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const leases = new PresenceLeases();
  const left: string[] = [];
  leases.hold(0, 'presence-a', 'u', '1.1', 15_000, () => left.push('1.1'));
  leases.close();
  assert.deepEqual(left, ['1.1']);
  leases.hold(0, 'presence-a', 'v', '1.2', 15_000, () => left.push('1.2'));
  assert.deepEqual(left, ['1.1', '1.2']);
  t.mock.timers.tick(15_000);
  assert.deepEqual(left, ['1.1', '1.2']);
});
