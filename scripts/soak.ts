// Soak test (issue #7), run by command, not in CI:
//   node --import tsx scripts/soak.ts --minutes 10
// Starts the server as a child process (as `npm start` runs it; one host, no Redis) and drives it with
// connection churn (V1 and V2 sockets opened and closed, half of them abruptly), steady HTTP publishing
// (single, keyed and batch), presence churn (members leaving and joining as other users) and client
// events. Every --sample seconds it records:
//   - RSS of the server process (/proc/<pid>/status; one figure for all threads: per-thread RSS does not
//     exist) and the primary's heap (nodejs_heap_size_used_bytes);
//   - event-loop lag p99 of the primary thread (nodejs_eventloop_lag_p99_seconds: prom-client measures the
//     thread it runs in, which is the primary; the worker threads' lag is not exported);
//   - for each worker thread, the round trip of `sockudo:ping` → `sockudo:pong` on a probe socket held on
//     that thread (the worker answers it on its own event loop, so its p99 bounds that loop's lag from
//     above; the driver's own loop lag is reported next to it, since it adds to every round trip);
//   - each worker thread's V8 heap and event-loop busy ratio (sockudo_worker_heap_used_bytes and
//     sockudo_tokio_worker_busy_ratio, by worker: the heap is a steadier sign of a leak than RSS);
//   - connections, channels, handles and resources from /metrics.
// At the end every client leaves and the script checks that the server is back to its baseline: no
// connections, no channels, no presence members, connects = disconnects, the primary's active handles
// and resources as before the load. Exit code 1 if any of that fails or the server died.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Pusher from 'pusher';
import WebSocket from 'ws';
import { serverStartArgs } from '../bench/startCommand.ts';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    clients: { type: 'string', default: '300' },
    'churn-per-second': { type: 'string', default: '30' },
    'publish-rate': { type: 'string', default: '200' },
    'presence-churn-per-second': { type: 'string', default: '10' },
    sample: { type: 'string', default: '10' },
    workers: { type: 'string', default: '2' },
    json: { type: 'string' },
  },
});
const MINUTES = Number(args.minutes);
const POOL = Number(args.clients);
const CHURN = Number(args['churn-per-second']);
const PUBLISH_RATE = Number(args['publish-rate']);
const PRESENCE_CHURN = Number(args['presence-churn-per-second']);
const SAMPLE_S = Number(args.sample);
const WORKERS = Number(args.workers);
const ROOT = new URL('../', import.meta.url).pathname;
const APP = { id: 'app-id', key: 'app-key', secret: 'app-secret' };
const sdk = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1' });
const PUBLIC_CHANNELS = Array.from({ length: 50 }, (_, i) => `soak-${i}`);
const PRIVATE_CHANNELS = Array.from({ length: 10 }, (_, i) => `private-soak-${i}`);
const PRESENCE_CHANNELS = Array.from({ length: 10 }, (_, i) => `presence-soak-${i}`);
const USERS = 200;

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- server child process
async function startServer(): Promise<{ child: ChildProcess; port: number; metricsPort: number; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, serverStartArgs(ROOT), {
    cwd: ROOT,
    env: { PATH: process.env.PATH, SOCKUDO_PORT: '0', SOCKUDO_METRICS_PORT: '0', SOCKUDO_WORKERS: String(WORKERS), SOCKUDO_LOG_PRETTY: 'false', SOCKUDO_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let out = '';
  const stderr: string[] = [];
  child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start')), 30000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const l = out.split('\n').find((x) => x.includes('sockudo-ts listening'));
      if (l) {
        clearTimeout(timer);
        resolve(l);
      }
    });
    void exit.then((code) => reject(new Error(`server exited (${code}): ${stderr.join('')}`)));
  });
  // Keep the pipe drained; warnings and errors from the server are shown.
  child.stdout?.removeAllListeners('data');
  child.stdout?.on('data', (d: Buffer) => {
    for (const l of d.toString().split('\n')) if (l.includes('"level":40') || l.includes('"level":50') || l.includes('"level":60')) console.error(`server: ${l}`);
  });
  const { port, metricsPort } = JSON.parse(line) as { port: number; metricsPort: number };
  return { child, port, metricsPort, exit };
}

// ---------------------------------------------------------------- metrics
type Metrics = Map<string, number>;
/**
 * Every metric summed over its labels (one app, one port), plus `name{type="..."}` keys for handles and resources
 * and `name{worker="..."}` keys for the per-worker metrics.
 */
async function scrape(metricsPort: number): Promise<Metrics> {
  // A fresh connection each time, so the scrape's own keep-alive socket is never left behind as a handle.
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: { Connection: 'close' } })).text();
  const m: Metrics = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match) continue;
    m.set(match[1], (m.get(match[1]) ?? 0) + Number(match[3]));
    const type = /type="([^"]+)"/.exec(match[2] ?? '')?.[1];
    if (type && (match[1] === 'nodejs_active_handles' || match[1] === 'nodejs_active_resources')) m.set(`${match[1]}{${type}}`, Number(match[3]));
    const worker = /worker="(\d+)"/.exec(match[2] ?? '')?.[1];
    if (worker !== undefined) m.set(`${match[1]}{${worker}}`, Number(match[3]));
  }
  return m;
}

/** A per-worker metric's values by `w0`, `w1`, … (as the pong figures are keyed), times `scale`. */
function perWorker(m: Metrics, name: string, scale: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of m) if (k.startsWith(`${name}{`)) out[`w${k.slice(name.length + 1, -1)}`] = v * scale;
  return out;
}

/** `Socket=3 Timeout=1 …` for handles or resources. */
function byType(m: Metrics, name: string): string {
  return [...m.entries()].filter(([k]) => k.startsWith(`${name}{`)).map(([k, v]) => `${k.slice(name.length + 1, -1)}=${v}`).join(' ');
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

// ---------------------------------------------------------------- clients
interface SoakClient {
  ws: WebSocket;
  protocol: 1 | 2;
  socketId: string;
  presence: { channel: string; user: string } | null;
  privateChannel: string | null;
  received: number;
}

const stats = { opened: 0, closedClean: 0, terminated: 0, openFailures: 0, errorsFromServer: new Map<number, number>(), received: 0, clientEvents: 0, presenceChurn: 0 };

function openClient(port: number): Promise<SoakClient | null> {
  const protocol: 1 | 2 = Math.random() < 0.3 ? 2 : 1;
  const query = protocol === 2 ? 'protocol=2&client=js&version=2.2.0&flash=false' : 'protocol=7&client=js&version=8.4.0&flash=false';
  const ws = new WebSocket(`ws://127.0.0.1:${port}/app/${APP.key}?${query}`);
  const c: SoakClient = { ws, protocol, socketId: '', presence: null, privateChannel: null, received: 0 };
  const prefix = protocol === 2 ? 'sockudo' : 'pusher';
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ws.terminate();
      stats.openFailures++;
      resolve(null);
    }, 5000);
    ws.on('error', () => {});
    ws.on('close', () => {
      clearTimeout(timer);
      if (c.socketId === '') {
        stats.openFailures++;
        resolve(null);
      }
    });
    ws.on('message', (raw) => {
      const f = JSON.parse(raw.toString()) as { event: string; channel?: string; data?: unknown };
      if (f.event.endsWith('connection_established')) {
        clearTimeout(timer);
        c.socketId = (JSON.parse(f.data as string) as { socket_id: string }).socket_id;
        stats.opened++;
        for (const ch of new Set([pick(PUBLIC_CHANNELS), pick(PUBLIC_CHANNELS)])) send(c, { event: `${prefix}:subscribe`, data: { channel: ch } });
        if (Math.random() < 0.3) {
          c.privateChannel = pick(PRIVATE_CHANNELS);
          const { auth } = sdk.authorizeChannel(c.socketId, c.privateChannel);
          send(c, { event: `${prefix}:subscribe`, data: { channel: c.privateChannel, auth } });
        }
        if (Math.random() < 0.3) joinPresence(c);
        resolve(c);
        return;
      }
      if (f.event === 'pusher:ping') return send(c, { event: 'pusher:pong', data: {} });
      if (f.event.endsWith(':error')) {
        const code = (typeof f.data === 'object' && f.data !== null ? (f.data as { code?: number }).code : undefined) ?? 0;
        stats.errorsFromServer.set(code, (stats.errorsFromServer.get(code) ?? 0) + 1);
      }
      c.received++;
      stats.received++;
    });
  });
}

function send(c: SoakClient, frame: unknown): void {
  if (c.ws.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify(frame));
}

function joinPresence(c: SoakClient): void {
  const prefix = c.protocol === 2 ? 'sockudo' : 'pusher';
  const channel = pick(PRESENCE_CHANNELS);
  const user = `user-${Math.floor(Math.random() * USERS)}`;
  const data = { user_id: user, user_info: { name: user } };
  const { auth } = sdk.authorizeChannel(c.socketId, channel, data);
  send(c, { event: `${prefix}:subscribe`, data: { channel, auth, channel_data: JSON.stringify(data) } });
  c.presence = { channel, user };
}

function leavePresence(c: SoakClient): void {
  if (!c.presence) return;
  send(c, { event: `${c.protocol === 2 ? 'sockudo' : 'pusher'}:unsubscribe`, data: { channel: c.presence.channel } });
  c.presence = null;
}

// ---------------------------------------------------------------- per-worker probes
interface Probe {
  worker: string;
  ws: WebSocket;
  sentAt: number;
  rtts: number[];
}

/** Opens V2 sockets until every worker thread holds one (the socket id's first part ends with the worker index). */
async function openProbes(port: number): Promise<Probe[]> {
  const probes = new Map<string, Probe>();
  for (let attempt = 0; probes.size < WORKERS && attempt < 200; attempt++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/app/${APP.key}?protocol=2&client=js&version=2.2.0&flash=false`);
    const worker = await new Promise<string>((resolve, reject) => {
      ws.once('error', reject);
      ws.once('message', (raw) => {
        const f = JSON.parse(raw.toString()) as { data: string };
        resolve((JSON.parse(f.data) as { socket_id: string }).socket_id.split('.')[0].slice(-2));
      });
    });
    if (probes.has(worker)) {
      ws.close();
      continue;
    }
    const probe: Probe = { worker, ws, sentAt: 0, rtts: [] };
    ws.on('message', (raw) => {
      if (probe.sentAt > 0 && raw.toString().includes('sockudo:pong')) {
        probe.rtts.push(performance.now() - probe.sentAt);
        probe.sentAt = 0;
      }
    });
    probes.set(worker, probe);
  }
  return [...probes.values()].sort((a, b) => a.worker.localeCompare(b.worker));
}

function pingProbes(probes: Probe[]): void {
  for (const p of probes) {
    if (p.sentAt !== 0) continue; // the previous ping is still unanswered
    p.sentAt = performance.now();
    p.ws.send('{"event":"sockudo:ping","data":{}}');
  }
}

const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  const num = points.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0);
  const den = points.reduce((s, p) => s + (p[0] - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

const MiB = 1024 * 1024;

// ---------------------------------------------------------------- main
const server = await startServer();
const pid = server.child.pid as number;
let serverDied = false;
void server.exit.then((code) => {
  serverDied = true;
  console.error(`server exited (${code})`);
});
console.log(`soak: ${MINUTES} min, pool ${POOL} clients, churn ${CHURN}/s, publishes ${PUBLISH_RATE}/s, presence churn ${PRESENCE_CHURN}/s; server pid ${pid}, port ${server.port}, metrics ${server.metricsPort}, ${WORKERS} workers`);

const probes = await openProbes(server.port);
if (probes.length < WORKERS) console.error(`only ${probes.length} of ${WORKERS} worker threads got a probe socket`);
await sleep(2000);
const baseline = await scrape(server.metricsPort);
const baselineRss = rssOf(pid);

const driverLag = monitorEventLoopDelay({ resolution: 10 });
driverLag.enable();
const clients: SoakClient[] = [];
let stopping = false;

// Fill the pool.
while (clients.length < POOL) {
  const batch = await Promise.all(Array.from({ length: Math.min(50, POOL - clients.length) }, () => openClient(server.port)));
  clients.push(...batch.filter((c): c is SoakClient => c !== null));
}

// Connection churn: replace one client every 1/CHURN s; half close cleanly, half drop the TCP connection.
const churnTimer = setInterval(() => {
  if (stopping || clients.length === 0) return;
  const i = Math.floor(Math.random() * clients.length);
  const [gone] = clients.splice(i, 1);
  if (Math.random() < 0.5) {
    gone.ws.close();
    stats.closedClean++;
  } else {
    gone.ws.terminate();
    stats.terminated++;
  }
  void openClient(server.port).then((c) => {
    if (c && !stopping) clients.push(c);
    else c?.ws.close();
  });
}, 1000 / CHURN);

// Presence churn: a member leaves, then the socket joins again (another channel, another user).
const presenceTimer = setInterval(() => {
  if (stopping) return;
  const c = pick(clients);
  if (!c) return;
  if (c.presence) leavePresence(c);
  joinPresence(c);
  stats.presenceChurn++;
}, 1000 / PRESENCE_CHURN);

// Client events: a few a second on private channels.
const clientEventTimer = setInterval(() => {
  if (stopping) return;
  const withPrivate = clients.filter((c) => c.privateChannel);
  for (let k = 0; k < 5 && withPrivate.length > 0; k++) {
    const c = pick(withPrivate);
    send(c, { event: 'client-typing', channel: c.privateChannel, data: { at: Date.now() } });
    stats.clientEvents++;
  }
}, 1000);

// Publishing: steady, with a bounded number of requests in flight.
const publishStats = { sent: 0, ok: 0, failed: new Map<string, number>() };
let inFlight = 0;
const publishTimer = setInterval(() => {
  if (stopping) return;
  const perTick = PUBLISH_RATE / 50;
  for (let k = 0; k < perTick && inFlight < 64; k++) {
    inFlight++;
    publishStats.sent++;
    const r = Math.random();
    const path = r < 0.1 ? 'batch_events' : 'events';
    const body =
      path === 'batch_events'
        ? { batch: Array.from({ length: 5 }, () => ({ name: 'batch', channel: pick(PUBLIC_CHANNELS), data: JSON.stringify({ at: Date.now() }) })) }
        : { name: 'tick', channels: [pick(PUBLIC_CHANNELS), pick(PUBLIC_CHANNELS)].filter((x, i, a) => a.indexOf(x) === i), data: JSON.stringify({ at: Date.now() }), ...(r < 0.3 ? { idempotency_key: `soak-${publishStats.sent}` } : {}) };
    fetch(`http://127.0.0.1:${server.port}/apps/${APP.id}/${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
      .then(async (res) => {
        await res.arrayBuffer();
        if (res.status === 200) publishStats.ok++;
        else publishStats.failed.set(String(res.status), (publishStats.failed.get(String(res.status)) ?? 0) + 1);
      })
      .catch((err: Error) => publishStats.failed.set(err.name, (publishStats.failed.get(err.name) ?? 0) + 1))
      .finally(() => inFlight--);
  }
}, 20);

const probeTimer = setInterval(() => pingProbes(probes), 200);

interface Sample {
  t: number;
  rssMiB: number;
  primaryHeapMiB: number;
  primaryLagP99Ms: number;
  workerHeapMiB: Record<string, number>;
  workerBusyRatio: Record<string, number>;
  workerPongP99Ms: Record<string, number>;
  workerPongMaxMs: Record<string, number>;
  driverLagP99Ms: number;
  driverLagMaxMs: number;
  connected: number;
  channels: number;
  handles: number;
  sentPerSecond: number;
}
const samples: Sample[] = [];
const started = Date.now();
let lastSent = baseline.get('sockudo_ws_messages_sent_total') ?? 0;
console.log('   t(s)  rss(MiB)  heap(MiB)  primary-lag-p99(ms)  worker-pong-p99(ms)  worker-heap(MiB)/busy  driver-lag-p99/max(ms)  connected  channels  handles  ws-msgs/s');
while (Date.now() - started < MINUTES * 60_000 && !serverDied) {
  await sleep(SAMPLE_S * 1000);
  if (serverDied) break;
  const m = await scrape(server.metricsPort);
  const sent = m.get('sockudo_ws_messages_sent_total') ?? 0;
  const s: Sample = {
    t: Math.round((Date.now() - started) / 1000),
    rssMiB: rssOf(pid) / MiB,
    primaryHeapMiB: (m.get('nodejs_heap_size_used_bytes') ?? 0) / MiB,
    primaryLagP99Ms: (m.get('nodejs_eventloop_lag_p99_seconds') ?? 0) * 1000,
    workerHeapMiB: perWorker(m, 'sockudo_worker_heap_used_bytes', 1 / MiB),
    workerBusyRatio: perWorker(m, 'sockudo_tokio_worker_busy_ratio', 1),
    workerPongP99Ms: Object.fromEntries(probes.map((p) => [`w${Number(p.worker)}`, quantile(p.rtts, 0.99)])),
    workerPongMaxMs: Object.fromEntries(probes.map((p) => [`w${Number(p.worker)}`, Math.max(0, ...p.rtts)])),
    driverLagP99Ms: driverLag.percentile(99) / 1e6,
    driverLagMaxMs: driverLag.max / 1e6,
    connected: m.get('sockudo_connected') ?? 0,
    channels: m.get('sockudo_active_channels') ?? 0,
    handles: m.get('nodejs_active_handles_total') ?? 0,
    sentPerSecond: Math.round((sent - lastSent) / SAMPLE_S),
  };
  lastSent = sent;
  for (const p of probes) p.rtts.length = 0;
  driverLag.reset();
  samples.push(s);
  const pong = Object.entries(s.workerPongP99Ms).map(([w, v]) => `${w}=${v.toFixed(1)}`).join(' ');
  const workers = Object.entries(s.workerHeapMiB).map(([w, v]) => `${w}=${v.toFixed(0)}/${(s.workerBusyRatio[w] ?? 0).toFixed(2)}`).join(' ');
  console.log(
    `${String(s.t).padStart(7)}  ${s.rssMiB.toFixed(1).padStart(8)}  ${s.primaryHeapMiB.toFixed(1).padStart(9)}  ${s.primaryLagP99Ms.toFixed(1).padStart(19)}  ${pong.padStart(19)}  ${workers.padStart(21)}  ${`${s.driverLagP99Ms.toFixed(1)}/${s.driverLagMaxMs.toFixed(0)}`.padStart(22)}  ${String(s.connected).padStart(9)}  ${String(s.channels).padStart(8)}  ${String(s.handles).padStart(7)}  ${String(s.sentPerSecond).padStart(9)}`,
  );
}

// ---------------------------------------------------------------- wind down and check the baseline
stopping = true;
clearInterval(churnTimer);
clearInterval(presenceTimer);
clearInterval(clientEventTimer);
clearInterval(publishTimer);
while (inFlight > 0) await sleep(50);
for (const c of clients) c.ws.close();
clients.length = 0;
clearInterval(probeTimer);
for (const p of probes) p.ws.close();

const checks: { name: string; ok: boolean; detail: string }[] = [];
let after: Metrics = new Map();
const deadline = Date.now() + 30_000;
for (;;) {
  after = await scrape(server.metricsPort).catch(() => new Map());
  if ((after.get('sockudo_connected') ?? -1) === 0 && (after.get('sockudo_active_channels') ?? -1) === 0) break;
  if (Date.now() > deadline || serverDied) break;
  await sleep(250);
}
await sleep(3000); // let timers that follow a close (presence leaves, slot releases) run
after = serverDied ? after : await scrape(server.metricsPort);
const channelsLeft = serverDied ? null : ((await (await fetch(`http://127.0.0.1:${server.port}/apps/${APP.id}/channels`)).json()) as { channels: Record<string, unknown> });
const presenceLeft: Record<string, number> = {};
if (!serverDied) {
  for (const ch of PRESENCE_CHANNELS) {
    const res = (await (await fetch(`http://127.0.0.1:${server.port}/apps/${APP.id}/channels/${ch}/users`)).json()) as { users: unknown[] };
    if (res.users.length > 0) presenceLeft[ch] = res.users.length;
  }
}
const idleRss = serverDied ? 0 : rssOf(pid);
const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
check('server alive for the whole run', !serverDied, serverDied ? 'the server process exited' : 'yes');
check('no connections left (sockudo_connected)', after.get('sockudo_connected') === 0, String(after.get('sockudo_connected')));
check('no channels left (sockudo_active_channels, GET /channels)', after.get('sockudo_active_channels') === 0 && Object.keys(channelsLeft?.channels ?? { x: 1 }).length === 0, `${after.get('sockudo_active_channels')} / ${JSON.stringify(channelsLeft?.channels)}`);
check('no presence members left (GET .../users on every presence channel)', Object.keys(presenceLeft).length === 0, JSON.stringify(presenceLeft));
check('connects = disconnects', after.get('sockudo_new_connections_total') === after.get('sockudo_new_disconnections_total'), `${after.get('sockudo_new_connections_total')} / ${after.get('sockudo_new_disconnections_total')}`);
check('subscriptions = unsubscriptions', after.get('sockudo_channel_subscriptions_total') === after.get('sockudo_channel_unsubscriptions_total'), `${after.get('sockudo_channel_subscriptions_total')} / ${after.get('sockudo_channel_unsubscriptions_total')}`);
check('primary active handles back to baseline', (after.get('nodejs_active_handles_total') ?? 0) <= (baseline.get('nodejs_active_handles_total') ?? 0), `${baseline.get('nodejs_active_handles_total')} (${byType(baseline, 'nodejs_active_handles')}) → ${after.get('nodejs_active_handles_total')} (${byType(after, 'nodejs_active_handles')})`);
check('primary active resources back to baseline', (after.get('nodejs_active_resources_total') ?? 0) <= (baseline.get('nodejs_active_resources_total') ?? 0), `${baseline.get('nodejs_active_resources_total')} (${byType(baseline, 'nodejs_active_resources')}) → ${after.get('nodejs_active_resources_total')} (${byType(after, 'nodejs_active_resources')})`);

// RSS slope over the second half of the run (the first half includes warm-up: JIT, pools, buffers). The
// worker heaps make RSS a saw-tooth (tens of MiB between collections), so the slope of the per-minute
// peaks is given too: it is the steadier of the two.
const secondHalf = samples.filter((s) => s.t >= (samples.at(-1)?.t ?? 0) / 2);
const rssSlope = slope(secondHalf.map((s) => [s.t / 60, s.rssMiB]));
const peaks = new Map<number, number>();
for (const x of samples) peaks.set(Math.floor(x.t / 60), Math.max(peaks.get(Math.floor(x.t / 60)) ?? 0, x.rssMiB));
const peakList = [...peaks.entries()].filter(([minute]) => minute < Math.floor((samples.at(-1)?.t ?? 0) / 60) || peaks.size === 1);
const peakSlope = slope(peakList.filter(([minute]) => minute >= peakList.length / 2).map(([minute, v]) => [minute, v]));
const heapSlope = slope(secondHalf.map((s) => [s.t / 60, s.primaryHeapMiB]));
const all = <K extends keyof Sample>(k: K) => samples.map((s) => s[k] as number);
const workerP99 = Object.fromEntries(probes.map((p) => [`w${Number(p.worker)}`, Math.max(0, ...samples.map((s) => s.workerPongP99Ms[`w${Number(p.worker)}`] ?? 0))]));
// A worker that did not answer a scrape in time has no figures in that sample: left out, not counted as 0.
const workerNames = [...new Set(samples.flatMap((x) => Object.keys(x.workerHeapMiB)))].sort();
const workerHeap = Object.fromEntries(
  workerNames.map((w) => {
    const has = (x: Sample) => x.workerHeapMiB[w] !== undefined;
    const answered = samples.filter(has);
    return [
      w,
      {
        maxMiB: +Math.max(...answered.map((x) => x.workerHeapMiB[w])).toFixed(1),
        slopeSecondHalfMiBPerMin: +slope(secondHalf.filter(has).map((x) => [x.t / 60, x.workerHeapMiB[w]])).toFixed(2),
        medianBusyRatio: +quantile(answered.map((x) => x.workerBusyRatio[w] ?? 0), 0.5).toFixed(2),
        samplesMissing: samples.length - answered.length,
      },
    ];
  }),
);
const summary = {
  minutes: MINUTES,
  load: { pool: POOL, churnPerSecond: CHURN, publishRate: PUBLISH_RATE, presenceChurnPerSecond: PRESENCE_CHURN, workers: WORKERS },
  clients: { ...stats, errorsFromServer: Object.fromEntries(stats.errorsFromServer) },
  publishes: { ...publishStats, failed: Object.fromEntries(publishStats.failed) },
  rss: { baselineMiB: +(baselineRss / MiB).toFixed(1), maxMiB: +Math.max(...all('rssMiB')).toFixed(1), lastUnderLoadMiB: +(samples.at(-1)?.rssMiB ?? 0).toFixed(1), idleAfterMiB: +(idleRss / MiB).toFixed(1), slopeSecondHalfMiBPerMin: +rssSlope.toFixed(2), perMinutePeaksMiB: peakList.map(([, v]) => Math.round(v)), peakSlopeSecondHalfMiBPerMin: +peakSlope.toFixed(2) },
  primaryHeap: { maxMiB: +Math.max(...all('primaryHeapMiB')).toFixed(1), slopeSecondHalfMiBPerMin: +heapSlope.toFixed(2) },
  workerHeap,
  primaryLagP99Ms: { median: +quantile(all('primaryLagP99Ms'), 0.5).toFixed(1), worst: +Math.max(...all('primaryLagP99Ms')).toFixed(1) },
  workerPongP99Ms: { median: Object.fromEntries(probes.map((p) => [`w${Number(p.worker)}`, +quantile(samples.map((x) => x.workerPongP99Ms[`w${Number(p.worker)}`] ?? 0), 0.5).toFixed(1)])), worstSample: workerP99 },
  driverLagP99Ms: { worst: +Math.max(...all('driverLagP99Ms')).toFixed(1), worstMax: +Math.max(...all('driverLagMaxMs')).toFixed(1) },
  wsMessagesSentPerSecond: { median: quantile(all('sentPerSecond'), 0.5) },
  checks,
};
console.log(JSON.stringify(summary, null, 2));
if (args.json) writeFileSync(args.json, JSON.stringify({ summary, samples }, null, 2));

driverLag.disable();
if (!serverDied) {
  server.child.kill('SIGTERM');
  const code = await server.exit;
  checks.push({ name: 'clean exit on SIGTERM', ok: code === 0, detail: String(code) });
  console.log(`server exited ${code} after SIGTERM`);
}
const failed = checks.filter((c) => !c.ok);
for (const c of checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
process.exit(failed.length > 0 ? 1 : 0);
