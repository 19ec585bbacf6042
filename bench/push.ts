// Push benchmark: admission rate (signed POST /push/publish per second, closed loop) and dispatch rate
// (deliveries per second to N Web Push devices, from the 202 to the `succeeded` status), against the real
// server as a child process and a local push-service sink. Baselines measured in the same run: the sink
// driven directly with pre-built requests at the same concurrency (the HTTP ceiling of this machine), and
// RFC 8291 encryption alone on the crypto threads' count (the crypto ceiling). Prints JSON lines and a
// markdown table of medians; never fails on speed.
//
//   node --import tsx bench/push.ts [--runs 3] [--devices 10000] [--admission-seconds 5] [--admission-clients 32]
//                                   [--concurrency 64] [--crypto-threads 0] [--workers 1]
import { type ChildProcess, spawn } from 'node:child_process';
import { createECDH, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import webpush from 'web-push';
import { CryptoPool } from '../src/push/cryptoPool.ts';
import { machineInfo, packageVersion } from './machine.ts';
import { processCpuSeconds } from './procStat.ts';
import { BENCH_APP, signedGetPath, signedPath } from './signing.ts';
import { REPO_DIR } from './targets.ts';

const { values: a } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    devices: { type: 'string', default: '10000' },
    'admission-seconds': { type: 'string', default: '5' },
    'admission-clients': { type: 'string', default: '32' },
    concurrency: { type: 'string', default: '64' },
    'crypto-threads': { type: 'string', default: '0' },
    workers: { type: 'string', default: '1' },
    /** Extra node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
    'server-node-args': { type: 'string', default: '' },
  },
});
const RUNS = Number(a.runs);
const DEVICES = Number(a.devices);
const CONCURRENCY = Number(a.concurrency);

/** A push service that accepts everything (201) and counts: the cheapest possible provider. */
async function startSink(): Promise<{ server: Server; url: string; count: () => number }> {
  let count = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count++;
      res.writeHead(201).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, count: () => count };
}

interface Child {
  process: ChildProcess;
  port: number;
}

async function startServer(dir: string): Promise<Child> {
  const configFile = join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      log: { level: 'warn' },
      metrics: { enabled: false },
      port: 0,
      workers: Number(a.workers),
      push: {
        storage: { sqlite_path: join(dir, 'push.sqlite') },
        acceptance_rps: 1_000_000,
        concurrency_per_provider: CONCURRENCY,
        crypto_threads: Number(a['crypto-threads']),
      },
    }),
  );
  const child = spawn(process.execPath, [...(a['server-node-args'] || '').split(' ').filter(Boolean), '--import', 'tsx', 'src/main.ts', '--config', configFile], {
    cwd: REPO_DIR,
    env: { PATH: process.env.PATH, SOCKUDO_LOG_PRETTY: 'false', SOCKUDO_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('sockudo-ts listening'));
      if (line) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening`)));
  });
  child.stdout?.resume();
  return { process: child, port };
}

function stop(child: Child): Promise<void> {
  return new Promise((resolve) => {
    child.process.once('exit', () => resolve());
    child.process.kill('SIGTERM');
  });
}

async function api(agent: Agent, port: number, method: 'POST' | 'GET', path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const full = `/apps/${BENCH_APP.id}/push${path}`;
  const text = body === undefined ? '' : JSON.stringify(body);
  const url = method === 'POST' ? signedPath(BENCH_APP, full, text, Math.floor(Date.now() / 1000)) : signedGetPath(BENCH_APP, full, Math.floor(Date.now() / 1000));
  const res = await request(`http://127.0.0.1:${port}${url}`, { method, body: method === 'POST' ? text : undefined, headers: { 'content-type': 'application/json' }, dispatcher: agent });
  const raw = await res.body.text();
  return { status: res.statusCode, json: raw ? JSON.parse(raw) : null };
}

/** Registers `n` Web Push devices on `channel`, `parallel` requests at a time. */
async function seedDevices(agent: Agent, port: number, sinkUrl: string, channel: string, n: number): Promise<void> {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const p256dh = ecdh.getPublicKey().toString('base64url');
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const id = `${channel}-${i}`;
      const reg = await api(agent, port, 'POST', '/deviceRegistrations', {
        id,
        push: { recipient: { transportType: 'web', endpoint: `${sinkUrl}/wp/${i}`, p256dh, auth: randomBytes(16).toString('base64url') } },
      });
      if (reg.status !== 201) throw new Error(`registration failed: ${reg.status} ${JSON.stringify(reg.json)}`);
      const sub = await api(agent, port, 'POST', '/channelSubscriptions', { channel, deviceId: id });
      if (sub.status !== 201) throw new Error(`subscription failed: ${sub.status}`);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}

interface AdmissionResult {
  publishesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuUsPerPublish: number;
}

async function admission(agent: Agent, child: Child): Promise<AdmissionResult> {
  const seconds = Number(a['admission-seconds']);
  const latencies: number[] = [];
  const body = { recipients: [{ type: 'channel', channel: 'empty-channel' }], payload: { title: 'Order created', body: 'x'.repeat(200) } };
  const cpu0 = processCpuSeconds(child.process.pid as number);
  const started = performance.now();
  const end = started + seconds * 1000;
  let failures = 0;
  const client = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      const res = await api(agent, child.port, 'POST', '/publish', body);
      if (res.status !== 202) failures++;
      else latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: Number(a['admission-clients']) }, client));
  const elapsed = (performance.now() - started) / 1000;
  const cpu = processCpuSeconds(child.process.pid as number) - cpu0;
  if (failures > 0) console.error(`admission: ${failures} publishes were not accepted`);
  latencies.sort((x, y) => x - y);
  return {
    publishesPerSecond: latencies.length / elapsed,
    p50Ms: latencies[Math.floor(latencies.length * 0.5)],
    p99Ms: latencies[Math.floor(latencies.length * 0.99)],
    serverCpuUsPerPublish: (cpu / latencies.length) * 1e6,
  };
}

interface DispatchResult {
  deliveriesPerSecond: number;
  seconds: number;
  serverCpuUsPerDelivery: number;
}

async function dispatch(agent: Agent, child: Child, sink: { count: () => number }, channel: string): Promise<DispatchResult> {
  const before = sink.count();
  const cpu0 = processCpuSeconds(child.process.pid as number);
  const started = performance.now();
  const res = await api(agent, child.port, 'POST', '/publish', { recipients: [{ type: 'channel', channel }], payload: { title: 'Order created', body: 'Order ord_124 is ready', data: { order_id: 'ord_124' } } });
  if (res.status !== 202) throw new Error(`publish refused: ${res.status}`);
  for (;;) {
    const s = await api(agent, child.port, 'GET', `/publish/${res.json.publishId}/status`);
    if (['succeeded', 'partiallySucceeded', 'failed', 'dead_lettered'].includes(s.json.state)) {
      if (s.json.state !== 'succeeded' || s.json.counters.succeeded !== DEVICES) throw new Error(`dispatch ended ${JSON.stringify(s.json)}`);
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = processCpuSeconds(child.process.pid as number) - cpu0;
  if (sink.count() - before !== DEVICES) throw new Error(`the sink got ${sink.count() - before} of ${DEVICES}`);
  return { deliveriesPerSecond: DEVICES / seconds, seconds, serverCpuUsPerDelivery: (cpu / DEVICES) * 1e6 };
}

/** Baseline 1: the sink driven directly, CONCURRENCY requests in flight, with a body of the same size. */
async function httpCeiling(sinkUrl: string): Promise<number> {
  const agent = new Agent({ connections: CONCURRENCY });
  const body = randomBytes(180);
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next++ < DEVICES) {
      const res = await request(`${sinkUrl}/wp/${next}`, { method: 'POST', body, headers: { ttl: '60', 'content-encoding': 'aes128gcm' }, dispatcher: agent });
      await res.body.dump();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await agent.close();
  return DEVICES / ((performance.now() - started) / 1000);
}

/** Baseline 2: RFC 8291 encryption (with cached VAPID) on the same pool the server uses. */
async function cryptoCeiling(): Promise<number> {
  const pool = new CryptoPool(Number(a['crypto-threads']));
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const vapid = webpush.generateVAPIDKeys();
  const items = Array.from({ length: DEVICES }, (_, i) => ({ endpoint: `http://127.0.0.1:1/wp/${i}`, p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url'), payload: 'x'.repeat(150), ttlSeconds: 60 }));
  await pool.encryptWebPush(items.slice(0, 200), { subject: 'mailto:b@example.com', ...vapid }); // warm the threads
  const started = performance.now();
  await pool.encryptWebPush(items, { subject: 'mailto:b@example.com', ...vapid });
  const rate = DEVICES / ((performance.now() - started) / 1000);
  await pool.close();
  return rate;
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const machine = machineInfo();
  console.log(JSON.stringify({ machine, webPush: packageVersion(REPO_DIR, 'web-push'), sqlite: packageVersion(REPO_DIR, 'better-sqlite3'), devices: DEVICES, concurrency: CONCURRENCY, workers: Number(a.workers) }));
  const sink = await startSink();
  const dir = mkdtempSync(join(tmpdir(), 'sockudo-push-bench-'));
  const child = await startServer(dir);
  const agent = new Agent({ connections: 64 });
  const rows: { admission: AdmissionResult; dispatch: DispatchResult; httpCeiling: number; cryptoCeiling: number }[] = [];
  try {
    const seeded = performance.now();
    await seedDevices(agent, child.port, sink.url, 'orders', DEVICES);
    console.log(JSON.stringify({ seeded: DEVICES, seconds: (performance.now() - seeded) / 1000 }));
    for (let run = 0; run < RUNS; run++) {
      const adm = Number(a['admission-seconds']) > 0 ? await admission(agent, child) : { publishesPerSecond: 0, p50Ms: 0, p99Ms: 0, serverCpuUsPerPublish: 0 };
      const dis = await dispatch(agent, child, sink, 'orders');
      const http = await httpCeiling(sink.url);
      const crypto = await cryptoCeiling();
      const row = { admission: adm, dispatch: dis, httpCeiling: http, cryptoCeiling: crypto };
      rows.push(row);
      console.log(JSON.stringify({ run, ...row }));
    }
  } finally {
    await agent.close();
    await stop(child);
    sink.server.close();
  }
  const m = (f: (r: (typeof rows)[number]) => number) => median(rows.map(f));
  console.log(`
| push (${DEVICES} Web Push devices, ${machine.nproc} cores, Node ${machine.node}, ${a.workers} uWS worker, concurrency ${CONCURRENCY}; medians of ${RUNS}) | value |
|---|---|
| admission, accepted publishes/s (${a['admission-clients']} clients, closed loop) | ${m((r) => r.admission.publishesPerSecond).toFixed(0)} |
| admission latency p50 / p99 | ${m((r) => r.admission.p50Ms).toFixed(1)} / ${m((r) => r.admission.p99Ms).toFixed(1)} ms |
| admission, server CPU per publish | ${m((r) => r.admission.serverCpuUsPerPublish).toFixed(0)} µs |
| dispatch, deliveries/s (202 → succeeded) | ${m((r) => r.dispatch.deliveriesPerSecond).toFixed(0)} |
| dispatch, server CPU per delivery (all threads) | ${m((r) => r.dispatch.serverCpuUsPerDelivery).toFixed(0)} µs |
| baseline: the sink driven directly, requests/s | ${m((r) => r.httpCeiling).toFixed(0)} |
| baseline: RFC 8291 encryption alone on the pool, messages/s | ${m((r) => r.cryptoCeiling).toFixed(0)} |
`);
}

await main();
