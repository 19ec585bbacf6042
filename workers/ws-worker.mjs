// Thread entry for a uWS worker. Node 20 cannot start a .ts worker directly, so register tsx first.
import { register } from 'tsx/esm/api';

register();
await import('../src/worker/main.ts');
