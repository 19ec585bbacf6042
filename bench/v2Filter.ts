// The filtered V2 fan-out (`--v2-filter`, the `v2` scenario): every publish carries one tag and every V2
// subscriber subscribes with a tag filter that it matches, so deliveries equal the unfiltered runs' and
// what differs is the filter's evaluation (and the tags in each V2 frame).

/** The tags each publish carries (delivered to V2 subscribers only). */
export const V2_FILTER_TAGS: Readonly<Record<string, string>> = { bench: 'v2-filter' };

/** The `filter` of the V2 subscribers' `sockudo:subscribe`: tag equality, true for every publish above. */
export const V2_FILTER = { tags: { key: 'bench', cmp: 'eq', val: 'v2-filter' } } as const;

/**
 * What a filtered subscriber counts instead of the event name: the tag as the V2 frame spells it, so only a
 * frame that carries its tags counts (one without them would leave the run short of its expected deliveries).
 */
export const V2_FILTER_MARKER = JSON.stringify(V2_FILTER_TAGS).slice(1, -1);
