// The metrics listener (default :9601): GET /metrics in Prometheus text format, nothing else.
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.ts';

/** Series names with `prefix` instead of `sockudo_` (metrics.prefix; Sockudo's METRICS_PROMETHEUS_PREFIX). */
export function withPrefix(text: string, prefix: string): string {
  return prefix === 'sockudo_' ? text : text.replace(/^(# (?:HELP|TYPE) )?sockudo_/gm, `$1${prefix}`);
}

export async function startMetricsServer(registry: Registry, host: string, port: number, log: Logger, prefix = 'sockudo_'): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 NOT FOUND');
      return;
    }
    // HEAD (a monitor checking the endpoint) gets the headers only; node:http leaves the body out itself.
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(withPrefix(text, prefix)),
      (err: unknown) => {
        log.error({ err }, 'metrics collection failed');
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics collection failed');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
