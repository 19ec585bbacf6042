// piscina task file for push crypto. Node 20 cannot load .ts in a worker directly, so register tsx first.
import { register } from 'tsx/esm/api';

register();
const tasks = await import('../src/push/cryptoTasks.ts');

export const encryptWebPush = tasks.encryptWebPush;
export const signJwt = tasks.signJwt;
