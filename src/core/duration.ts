/** Durations in the config: `500ms`, `15s`, `1m`, `1h`, or combined largest unit first (`1m30s`). */

const DURATION = /^(?:(\d{1,6})h)?(?:(\d{1,6})m(?!s))?(?:(\d{1,6})s)?(?:(\d{1,9})ms)?$/;

export const DURATION_HINT = 'must be a duration like 500ms, 15s, 1m or 1h';

/** Parses a duration into milliseconds; throws an Error saying what is accepted otherwise. */
export function parseDuration(text: string): number {
  const match = typeof text === 'string' && text !== '' ? DURATION.exec(text) : null;
  if (!match) {
    // The text is a config value, not a secret, but keep the message bounded.
    const shown = String(text).slice(0, 32);
    throw new Error(`invalid duration "${shown}": use a number and a unit (ms, s, m, h), like 500ms, 15s, 1m, 1h or 1m30s`);
  }
  const [, h = '0', m = '0', s = '0', ms = '0'] = match;
  return ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000 + Number(ms);
}

/** The shortest text `parseDuration` reads back as `ms`, for messages. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const units: Array<[string, number]> = [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]];
  let rest = ms;
  let out = '';
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}
