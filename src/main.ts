// Command-line entry: `npm start` (`node --import tsx src/main.ts [--config path]`). Loads the configuration, starts the
// server, and turns SIGTERM/SIGINT into the shutdown protocol.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { createLogger } from './log.ts';
import { startServer } from './primary/server.ts';
import { UwsLoadError } from './transport/uws.ts';

function fail(message: string): never {
  process.stderr.write(`sockudo-ts: ${message}\n`);
  process.exit(1);
}

let config: Config;
try {
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } }, strict: true });
  config = loadConfig({ file: values.config ?? process.env.SOCKUDO_CONFIG_FILE });
} catch (err) {
  if (err instanceof ConfigError) fail(`invalid configuration:\n${err.message}`);
  fail((err as Error).message);
}

const log = createLogger(config, 'primary');
process.on('unhandledRejection', (err) => {
  log.fatal({ err }, 'unhandled promise rejection');
  process.exit(1);
});

try {
  const server = await startServer(config, log);
  const graceMs = config.shutdown_grace_period * 1000;
  let signalled = false;
  const onSignal = (signal: string) => {
    if (signalled) return;
    signalled = true;
    log.info({ signal }, 'signal received');
    // A backstop: the process ends within the grace period even if a drain step hangs.
    setTimeout(() => {
      log.error('grace period over before shutdown completed; exiting');
      process.exit(1);
    }, graceMs).unref();
    server.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
} catch (err) {
  if (err instanceof UwsLoadError) fail(err.message);
  log.fatal({ err }, 'start-up failed');
  fail(`start-up failed: ${(err as Error).message}`);
}
