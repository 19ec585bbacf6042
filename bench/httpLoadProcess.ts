// One loader child process for the HTTP scenario: keeps `connections` signed publishes in flight until told
// to stop, and answers the parent's snapshot requests with its running counts.
import type { HttpLoadCommand, HttpLoadReport } from './loaderMessages.ts';
import { PublishClient } from './publishClient.ts';

const send = (m: HttpLoadReport) => process.send?.(m);

let client: PublishClient | null = null;
let running = false;
let lanes: Promise<void>[] = [];

function run(c: Extract<HttpLoadCommand, { type: 'run' }>): void {
  const cl = new PublishClient(c.origin, c.connections, c.body, { app: c.app, idempotencyKeys: c.idempotencyKeys });
  client = cl;
  running = true;
  const lane = async () => {
    while (running) await cl.publish();
  };
  lanes = Array.from({ length: c.connections }, lane);
}

async function stop(): Promise<void> {
  running = false;
  await Promise.all(lanes); // in-flight requests finish; each lane issues nothing more
  await client?.close();
  process.exit(0); // the parent awaits this exit
}

process.on('message', (c: HttpLoadCommand) => {
  switch (c.type) {
    case 'run':
      return run(c);
    case 'snapshot':
      return void send({ type: 'snapshot', id: c.id, ok: client?.ok ?? 0, failed: client?.failed ?? 0, firstError: client?.firstError ?? null });
    case 'stop':
      return void stop();
  }
});
process.on('disconnect', () => process.exit(0));
