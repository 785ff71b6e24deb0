/**
 * `${VAR}` and `${VAR:-default}` in string values. Done after YAML parsing, on values only,
 * so an environment variable can never inject YAML structure or keys.
 */
import { isObject } from './objects.js';
import type { Path, Problems } from './problems.js';

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

/**
 * Replaces `${VAR}` in every string value of a parsed document, in place; empty values are
 * refused here too. YAML aliases make shared nodes (visited once, so `$$` is not unescaped
 * twice) and can make cycles (refused: nothing downstream could walk them).
 */
export function interpolateAll(
  node: Record<string, unknown> | unknown[],
  path: Path,
  env: Record<string, string | undefined>,
  problems: Problems,
  visited = new WeakSet<object>(),
  ancestors = new Set<object>([node]),
): void {
  visited.add(node);
  const entries: Array<[string | number, unknown]> = Array.isArray(node) ? node.map((v, i) => [i, v]) : Object.entries(node);
  const set = (key: string | number, value: unknown) => {
    if (Array.isArray(node)) node[Number(key)] = value;
    else if (value === undefined) delete node[String(key)];
    else node[String(key)] = value;
  };
  for (const [key, value] of entries) {
    const at = [...path, key];
    if (typeof value === 'string') {
      const result = interpolate(value, env);
      if ('error' in result) problems.fail(at, result.error);
      else set(key, result.value);
    } else if (value === null || value === undefined) {
      // An empty `key:` would otherwise be coerced to 0, "" or false by the schema.
      problems.fail(at, 'has no value: give one, or remove the key to use the default');
      set(key, undefined);
    } else if (Array.isArray(value) || isObject(value)) {
      if (ancestors.has(value)) {
        problems.fail(at, 'is a YAML alias of a node that contains it');
        set(key, undefined);
      } else if (!visited.has(value)) {
        ancestors.add(value);
        interpolateAll(value, at, env, problems, visited, ancestors);
        ancestors.delete(value);
      }
    }
  }
}
