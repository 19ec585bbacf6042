// The one error type a configuration problem is reported with: its message names the key (and the variable it came from).
export class ConfigError extends Error {
  override name = 'ConfigError';
}
