// Command-line entry: `npm start` (`node --import tsx src/main.ts [--config path]`). Loads the configuration, starts the
// server, and turns SIGTERM/SIGINT into the shutdown protocol.
import { parseArgs } from 'node:util';
import { ConfigError, chooseConfigFile, loadConfig } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { createLogger } from './log.ts';
import { startServer } from './primary/server.ts';
import { UwsLoadError } from './transport/uws.ts';

function fail(message: string): never {
  process.stderr.write(`sockudo-ts: ${message}\n`);
  process.exit(1);
}

let config: Config;
let configFile: ReturnType<typeof chooseConfigFile>;
const configWarnings: string[] = [];
try {
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } }, strict: true });
  // --config, else SOCKUDO_CONFIG_FILE, else ./config/config.toml or ./config/config.json (as Sockudo), else none.
  configFile = chooseConfigFile(values.config, process.env, process.cwd());
  config = loadConfig({ file: configFile?.path, onWarning: (message) => configWarnings.push(message) });
} catch (err) {
  if (err instanceof ConfigError) fail(`invalid configuration:\n${err.message}`);
  fail((err as Error).message);
}

const log = createLogger(config, 'primary');
if (configFile) log.info({ file: configFile.path, chosenBy: configFile.chosenBy }, 'configuration file loaded');
else log.info('no configuration file: built-in defaults and the environment');
for (const message of configWarnings) log.warn(`configuration: ${message}`);
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
