// Signed-in users of the host, owned by the primary: which sockets each user has, and who watches whom,
// so watchlist online/offline notifications go out once per transition.

export class UserRegistry {
  /** `${appId}\n${userId}` → socket ids signed in as that user */
  private readonly sockets = new Map<string, Set<string>>();
  /** `${appId}\n${watchedUserId}` → user ids whose watchlist names them */
  private readonly watchers = new Map<string, Set<string>>();
  /** `${appId}\n${userId}` → that user's watchlist, while the user is online */
  private readonly watchlists = new Map<string, readonly string[]>();

  /**
   * Returns whether the user just came online, and which users of their watchlist are online and which are not
   * (each named once, in watchlist order): Sockudo tells a user signing in both.
   */
  signin(appId: string, userId: string, socketId: string, watchlist: readonly string[]): { cameOnline: boolean; onlineWatched: string[]; offlineWatched: string[] } {
    const key = `${appId}\n${userId}`;
    let set = this.sockets.get(key);
    const cameOnline = !set;
    if (!set) this.sockets.set(key, (set = new Set()));
    set.add(socketId);
    for (const watched of watchlist) {
      const wk = `${appId}\n${watched}`;
      let w = this.watchers.get(wk);
      if (!w) this.watchers.set(wk, (w = new Set()));
      w.add(userId);
    }
    const previous = this.watchlists.get(key) ?? [];
    this.watchlists.set(key, [...new Set([...previous, ...watchlist])]);
    const onlineWatched: string[] = [];
    const offlineWatched: string[] = [];
    for (const watched of new Set(watchlist)) (this.isOnline(appId, watched) ? onlineWatched : offlineWatched).push(watched);
    return { cameOnline, onlineWatched, offlineWatched };
  }

  /** Returns true when that was the user's last socket (the user went offline). */
  signout(appId: string, userId: string, socketId: string): boolean {
    const key = `${appId}\n${userId}`;
    const set = this.sockets.get(key);
    if (!set || !set.delete(socketId) || set.size > 0) return false;
    this.sockets.delete(key);
    for (const watched of this.watchlists.get(key) ?? []) {
      const wk = `${appId}\n${watched}`;
      const w = this.watchers.get(wk);
      w?.delete(userId);
      if (w?.size === 0) this.watchers.delete(wk);
    }
    this.watchlists.delete(key);
    return true;
  }

  isOnline(appId: string, userId: string): boolean {
    return this.sockets.has(`${appId}\n${userId}`);
  }

  /** Online users whose watchlist names `userId`. */
  watchersOf(appId: string, userId: string): string[] {
    return [...(this.watchers.get(`${appId}\n${userId}`) ?? [])];
  }
}
