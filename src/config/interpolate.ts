/**
 * `${VAR}` and `${VAR:-default}` in string values. Done after YAML parsing, on values only,
 * so an environment variable can never inject YAML structure or keys.
 */

// `$$` first so `$${X}` is a literal `${X}`; a `${` that matches nothing else is malformed.
const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]{0,127})(?::-([^}]*))?\}|\$\{/g;

export type Interpolated = { value: string } | { error: string };

export function interpolate(text: string, env: Record<string, string | undefined>): Interpolated {
  let error: string | undefined;
  const value = text.replace(REFERENCE, (match: string, name?: string, fallback?: string) => {
    if (match === '$$') return '$';
    if (name === undefined) {
      error ??= 'malformed variable reference: use ${NAME} or ${NAME:-default}, and $$ for a literal $';
      return match;
    }
    const set = env[name];
    // As in the shell, `:-` also covers a variable that is set but empty.
    if (set !== undefined && (set !== '' || fallback === undefined)) return set;
    if (fallback !== undefined) return fallback;
    error ??= `environment variable ${name} is not set`;
    return match;
  });
  return error === undefined ? { value } : { error };
}
