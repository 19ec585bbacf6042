// An app's `allowed_origins`, checked against the upgrade's Origin header as Sockudo does
// (crates/sockudo-core/src/origin_validation.rs): an empty list, `*` or `any` allows every origin; a missing
// Origin counts as "". A pattern with a scheme (`https://app.example.com`) must match the whole origin; one without
// (`app.example.com`, `localhost:3000`) matches that host on any scheme. `*` stands for one or more characters other
// than `/`, so `https://*.example.com` matches `https://a.example.com` and `https://a.b.example.com`, not
// `https://example.com`. Comparisons ignore case and a trailing `/`.

/** True when the Origin header value may connect. */
export type OriginCheck = (origin: string) => boolean;

const ALLOW_ALL: OriginCheck = () => true;

function escape(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

function normalize(s: string): string {
  return s.trim().toLowerCase().replace(/\/+$/, '');
}

/** Compiles an app's allowed_origins once (at start-up) into a check run at each upgrade. */
export function originCheck(allowed: readonly string[] | undefined): OriginCheck {
  const patterns = (allowed ?? []).map(normalize).filter((p) => p !== '');
  if (patterns.length === 0 || patterns.some((p) => p === '*' || p === 'any')) return ALLOW_ALL;
  const sources = patterns.map((p) => {
    const body = p.split('*').map(escape).join('[^/]+');
    // Without a scheme the pattern names a host (and port): any scheme may precede it.
    return p.includes('://') ? body : `[a-z][a-z0-9+.\\-]*://${body}`;
  });
  const re = new RegExp(`^(?:${sources.join('|')})$`);
  return (origin) => re.test(normalize(origin));
}
