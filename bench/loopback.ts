// The benchmark only ever talks to servers on this machine: every URL it connects to goes through here,
// which refuses any host that is not a loopback address (127.0.0.0/8, ::1, localhost).

/** The host to give net.connect for a loopback URL; throws for any other host. */
export function loopbackHost(url: string | URL): string {
  const u = typeof url === 'string' ? new URL(url) : url;
  const host = u.hostname;
  // "localhost" may resolve to ::1 or 127.0.0.1 depending on the resolver: pin it, so no lookup happens.
  if (host === 'localhost') return '127.0.0.1';
  if (host === '[::1]') return '::1';
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) return host;
  throw new Error(`the benchmark only targets loopback addresses (127.0.0.0/8, ::1, localhost), not "${host}" in ${u.href}`);
}
