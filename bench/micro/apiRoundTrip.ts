// One request at a time against a running server: GET /up (answered by the worker alone), a signed
// POST /apps/{id}/events to an empty channel (answered by the worker, which hands the publish to the primary:
// worker/publishAdmission.ts) and the same publish to an empty cache channel (which the primary answers:
// worker → primary → worker). The differences are what the signature check and the two thread crossings add
// to a request when nothing else is happening.
//   node --import tsx bench/micro/apiRoundTrip.ts [--port 6001] [--requests 3000]
import { parseArgs } from 'node:util';
import { Connection } from '../publishClient.ts';
import { BENCH_APP, SignedPublish } from '../signing.ts';

const { values } = parseArgs({ options: { port: { type: 'string', default: '6001' }, requests: { type: 'string', default: '3000' } } });
const conn = new Connection('127.0.0.1', Number(values.port));
const n = Number(values.requests);

async function measure(name: string, request: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) await conn.request(request()); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    const answer = await conn.request(request());
    if (answer.status !== 200) throw new Error(`${name}: HTTP ${answer.status} ${answer.body}`);
    ms.push(performance.now() - start);
  }
  ms.sort((a, b) => a - b);
  const at = (q: number) => `${Math.round(ms[Math.floor(n * q)] * 1000)} µs`;
  console.log(`${name}: p50 ${at(0.5)}, p90 ${at(0.9)}, p99 ${at(0.99)}`);
}

await measure('GET /up', () => 'GET /up HTTP/1.1\r\nHost: bench\r\n\r\n');
for (const [name, channel] of [
  ['POST events (answered by the worker)', 'empty'],
  ['POST events to a cache channel (answered by the primary)', 'cache-empty'],
]) {
  const publish = new SignedPublish(BENCH_APP, JSON.stringify({ name: 'e', channel, data: 'x'.repeat(64) }), 'events');
  await measure(name, () => {
    const body = publish.body;
    return `POST ${publish.path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  });
}
conn.close();
