/**
 * JupyterHub's timestamp format: UTC, Python `isoformat()` + 'Z', microseconds only when non-zero
 * (`2024-05-01T12:00:00Z`, `2024-05-01T12:00:00.123000Z`). null stays null.
 */
export function isoformat(d: Date | null | undefined): string | null {
  if (!d) return null;
  const s = d.toISOString(); // 2024-05-01T12:00:00.123Z
  const ms = d.getUTCMilliseconds();
  return ms === 0 ? s.slice(0, 19) + 'Z' : `${s.slice(0, 19)}.${String(ms).padStart(3, '0')}000Z`;
}

/**
 * Parses an ISO 8601 timestamp as JupyterHub's clients send it; a value without a zone is UTC.
 * Returns null when it is not a timestamp.
 */
export function parseTimestamp(value: unknown): Date | null {
  if (typeof value !== 'string' || value.length > 64) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(value.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s = '0', frac = '0', zone] = m;
  const [Y, M, D, H, Mi, S] = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  if (M < 1 || M > 12 || D < 1 || D > new Date(Date.UTC(Y, M, 0)).getUTCDate() || H > 23 || Mi > 59 || S > 59) return null;
  const ms = Math.round(Number('0.' + frac) * 1000);
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (zone && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    if (Number(digits.slice(0, 2)) > 23 || Number(digits.slice(2)) > 59) return null;
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return Number.isNaN(t) ? null : new Date(t);
}
