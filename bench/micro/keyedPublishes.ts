// Idempotent publishes (a fresh X-Idempotency-Key on each) against a running server for a long while, with
// the rate printed every 10 s: what happens once the idempotency window (120 s by default) and the store's
// max_entries (1,000,000) fill, which the http scenario's 10 s runs never reach (docs/benchmarks.md, "Session
// 20"). Not a test.
//   node --import tsx bench/micro/keyedPublishes.ts --port 6001 [--seconds 200] [--connections 32]
import { parseArgs } from 'node:util';
import { PublishClient, publishBody } from '../publishClient.ts';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '6001' }, seconds: { type: 'string', default: '200' }, connections: { type: 'string', default: '32' } },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const client = new PublishClient(`http://127.0.0.1:${Number(values.port)}`, connections, publishBody('bench-empty', 'keyed', 64), { idempotencyKeys: true });

let running = true;
const lanes = Array.from({ length: connections }, async () => {
  while (running) await client.publish();
});
const started = performance.now();
let counted = 0;
const report = setInterval(() => {
  const ok = client.ok;
  console.log(`${Math.round((performance.now() - started) / 1000)} s: ${Math.round((ok - counted) / 10)} publishes/s (failed so far: ${client.failed}${client.firstError ? `, first: ${client.firstError}` : ''})`);
  counted = ok;
}, 10_000);
setTimeout(async () => {
  running = false;
  clearInterval(report);
  await Promise.all(lanes);
  await client.close();
}, seconds * 1000);
