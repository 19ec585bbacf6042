// Signed-in users (§2.7): online/offline transitions per app across a user's sockets, and watchlists.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UserRegistry } from '../../src/users/userRegistry.ts';

describe('UserRegistry: online transitions', () => {
  test('the first socket brings a user online; more sockets do not', () => {
    const u = new UserRegistry();
    assert.equal(u.isOnline('app', 'u1'), false);
    assert.equal(u.signin('app', 'u1', 's1', []).cameOnline, true);
    assert.equal(u.isOnline('app', 'u1'), true);
    assert.equal(u.signin('app', 'u1', 's2', []).cameOnline, false);
  });

  test('the user goes offline with their last socket only', () => {
    const u = new UserRegistry();
    u.signin('app', 'u1', 's1', []);
    u.signin('app', 'u1', 's2', []);
    assert.equal(u.signout('app', 'u1', 's1'), false);
    assert.equal(u.isOnline('app', 'u1'), true);
    assert.equal(u.signout('app', 'u1', 's2'), true);
    assert.equal(u.isOnline('app', 'u1'), false);
    assert.equal(u.signin('app', 'u1', 's3', []).cameOnline, true, 'and comes online again later');
  });

  test('signouts of unknown sockets or users change nothing', () => {
    const u = new UserRegistry();
    u.signin('app', 'u1', 's1', []);
    assert.equal(u.signout('app', 'u1', 'other'), false);
    assert.equal(u.signout('app', 'u2', 's1'), false);
    assert.equal(u.signout('app2', 'u1', 's1'), false);
    assert.equal(u.isOnline('app', 'u1'), true);
    assert.equal(u.signout('app', 'u1', 's1'), true);
    assert.equal(u.signout('app', 'u1', 's1'), false, 'a second signout of the same socket');
  });

  test('the same user id in two apps is two users', () => {
    const u = new UserRegistry();
    u.signin('app1', 'u1', 's1', []);
    assert.equal(u.isOnline('app2', 'u1'), false);
    assert.equal(u.signin('app2', 'u1', 's2', []).cameOnline, true);
    assert.equal(u.signout('app1', 'u1', 's1'), true);
    assert.equal(u.isOnline('app2', 'u1'), true);
  });
});

describe('UserRegistry: watchlists', () => {
  test('onlineWatched lists the watched users who are online, in the same app', () => {
    const u = new UserRegistry();
    u.signin('app', 'u2', 'a', []);
    u.signin('other-app', 'u3', 'b', []);
    assert.deepEqual(u.signin('app', 'u1', 's1', ['u2', 'u3', 'u4']).onlineWatched, ['u2']);
    u.signin('app', 'u4', 'c', []);
    assert.deepEqual(u.signin('app', 'u1', 's2', ['u2', 'u3', 'u4']).onlineWatched, ['u2', 'u4']);
  });

  test('offlineWatched lists the watched users who are not online; each watched user is named once', () => {
    const u = new UserRegistry();
    u.signin('app', 'u2', 'a', []);
    u.signin('other-app', 'u3', 'b', []);
    const r = u.signin('app', 'u1', 's1', ['u2', 'u3', 'u2', 'u4', 'u3']);
    assert.deepEqual(r.onlineWatched, ['u2']);
    assert.deepEqual(r.offlineWatched, ['u3', 'u4'], 'u3 is online in another app only');
    assert.deepEqual(u.signin('app', 'u5', 's5', []).offlineWatched, []);
  });

  test('watchersOf: the online users whose watchlist names the user', () => {
    const u = new UserRegistry();
    u.signin('app', 'u1', 's1', ['u2', 'u3']);
    u.signin('app', 'u4', 's4', ['u2']);
    assert.deepEqual(u.watchersOf('app', 'u2').sort(), ['u1', 'u4']);
    assert.deepEqual(u.watchersOf('app', 'u3'), ['u1']);
    assert.deepEqual(u.watchersOf('app', 'u1'), []);
    assert.deepEqual(u.watchersOf('app2', 'u2'), [], 'per app');
  });

  test('a watcher stops watching when they go offline, not before', () => {
    const u = new UserRegistry();
    u.signin('app', 'u1', 's1', ['u2']);
    u.signin('app', 'u1', 's2', ['u2']);
    u.signin('app', 'u4', 's4', ['u2']);
    u.signout('app', 'u1', 's1');
    assert.deepEqual(u.watchersOf('app', 'u2').sort(), ['u1', 'u4'], 'u1 still has a socket');
    u.signout('app', 'u1', 's2');
    assert.deepEqual(u.watchersOf('app', 'u2'), ['u4']);
    u.signout('app', 'u4', 's4');
    assert.deepEqual(u.watchersOf('app', 'u2'), []);
  });

  test("watchlists of a user's sockets add up until the user goes offline", () => {
    const u = new UserRegistry();
    u.signin('app', 'u1', 's1', ['u2']);
    u.signin('app', 'u1', 's2', ['u3']);
    assert.deepEqual(u.watchersOf('app', 'u2'), ['u1']);
    assert.deepEqual(u.watchersOf('app', 'u3'), ['u1']);
    u.signout('app', 'u1', 's1');
    assert.deepEqual(u.watchersOf('app', 'u3'), ['u1']);
    u.signout('app', 'u1', 's2');
    assert.deepEqual(u.watchersOf('app', 'u2'), []);
    assert.deepEqual(u.watchersOf('app', 'u3'), []);
  });

  test('coming back online with a shorter watchlist watches only the new list', () => {
    const u = new UserRegistry();
    u.signin('app', 'u1', 's1', ['u2', 'u3']);
    u.signout('app', 'u1', 's1');
    u.signin('app', 'u1', 's2', ['u3']);
    assert.deepEqual(u.watchersOf('app', 'u2'), []);
    assert.deepEqual(u.watchersOf('app', 'u3'), ['u1']);
  });
});
