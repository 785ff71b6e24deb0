/** Small text helpers shared by every layer: bounded quoting and file-system error wording. */

/** Values come from the user's file: quoted and bounded, so messages stay one readable line. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

export function isFsError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
}

/** "ENOENT: no such file or directory" without the path Node appends (the caller names it). */
export function fsProblem(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.message.split(', ')[0] ?? err.message;
}
