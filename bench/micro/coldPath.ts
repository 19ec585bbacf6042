// What a worker's checks of one signed publish cost when the thread has been idle, against back to back.
// Runs the worker's own code (ApiPrecheck.verifiedAppId, PublishAdmission.admit and their parts) once every
// --gap ms and reports the median time per call over 5 rounds of 40, then the same with no gap. On the shared
// 2-core VMs here the first work after a few milliseconds of idleness ran 10–20× slower than in a tight loop
// (caches and the virtual CPU gone cold), which is what an occasional publish pays on the idle-channel
// latency path (docs/benchmarks.md, "Session 10"). Not a test; it sizes one cost for before/after comparisons.
//   node --import tsx bench/micro/coldPath.ts [--gap 20] [--only all,md5,sign]
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parseQuery, stringToSign } from '../../src/auth/apiSignature.ts';
import { md5Hex, sign } from '../../src/auth/hmac.ts';
import { loadConfig } from '../../src/config/load.ts';
import { parseRoute } from '../../src/http/route.ts';
import { ApiPrecheck } from '../../src/worker/apiPrecheck.ts';
import { PublishAdmission } from '../../src/worker/publishAdmission.ts';

const { values } = parseArgs({ options: { gap: { type: 'string', default: '20' }, only: { type: 'string' } } });
const gapMs = Number(values.gap);
const only = values.only?.split(',');

const config = loadConfig({ env: {} });
const app = config.apps[0];
const precheck = new ApiPrecheck(config);
const admission = new PublishAdmission(config);
const body = JSON.stringify({ name: 'bench', channel: 'probe', data: JSON.stringify({ m: 'x'.repeat(64), t: Date.now() }) });
const path = `/apps/${app.id}/events`;
const unsigned = `auth_key=${app.key}&auth_timestamp=${Math.floor(Date.now() / 1000)}&auth_version=1.0&body_md5=${md5Hex(body)}`;
const query = `${unsigned}&auth_signature=${sign(app.secret, `POST\n${path}\n${unsigned}`)}`;
const params = parseQuery(query);
const admit = () => {
  const admitted = admission.admit({ method: 'POST', path, contentType: 'application/json', idempotencyKey: '', body }, app.id);
  if (admitted) admission.taken(admitted.seq); // as the primary's answer would: the next call is admitted the same way
  return admitted;
};

const pieces: Record<string, () => unknown> = {
  all: () => precheck.verifiedAppId('POST', path, query, body) && admit(), // in the worker's order
  verifiedAppId: () => precheck.verifiedAppId('POST', path, query, body),
  admit,
  parseRoute: () => parseRoute(path),
  parseQuery: () => parseQuery(query),
  stringToSign: () => stringToSign('POST', path, params),
  md5: () => md5Hex(body),
  sign: () => sign(app.secret, `POST\n${path}\n${unsigned}`),
  'JSON.parse': () => JSON.parse(body),
};
if (pieces.verifiedAppId() !== app.id || !admit()) throw new Error('the sample publish does not pass the worker checks');
for (const f of Object.values(pieces)) for (let i = 0; i < 3000; i++) f(); // optimized before timing

async function medianMicros(f: () => unknown, gap: number): Promise<number> {
  const rounds: number[] = [];
  for (let round = 0; round < 5; round++) {
    const samples: number[] = [];
    for (let i = 0; i < 40; i++) {
      if (gap > 0) await sleep(gap);
      const started = performance.now();
      f();
      samples.push(performance.now() - started);
    }
    samples.sort((a, b) => a - b);
    rounds.push(samples[samples.length >> 1] * 1000);
  }
  rounds.sort((a, b) => a - b);
  return rounds[2];
}

console.log(`| piece | after ${gapMs} ms idle, µs | back to back, µs |\n|---|---|---|`);
for (const [name, f] of Object.entries(pieces)) {
  if (only && !only.includes(name)) continue;
  const cold = await medianMicros(f, gapMs);
  const hot = await medianMicros(f, 0);
  console.log(`| ${name} | ${cold.toFixed(1)} | ${hot.toFixed(1)} |`);
}
