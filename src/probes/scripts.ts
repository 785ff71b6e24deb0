/**
 * Probe scripts: user modules in the configured `probe_scripts_dir`, each exporting (as
 * `default`) a ProbeDefinition like the built-in ones. Loaded once at start and checked
 * as strictly as the configuration; a script that throws or hangs at run time fails only
 * its own run (the runner owns the deadline and catches the unexpected).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileOptionsSchema } from '../config/check.js';
import type { AnyProbeDefinition } from './types.js';

const MAX_SCRIPTS = 64;
const TYPE_NAME = /^[a-z][a-z0-9_]{0,63}$/;
const VALUE_NAME = /^[a-z][a-z0-9_]{0,63}$/;
const JS = ['.js', '.mjs', '.cjs'];
const TS = ['.ts', '.mts'];

/** Whether this Node.js can import .ts files itself (type stripping: 22.18+, 23.6+). */
export function canImportTypeScript(): boolean {
  return Boolean((process.features as { typescript?: string | false }).typescript);
}

/**
 * Imports every script in `dir` and checks it. Resolves with the probe types by name;
 * rejects with a ScriptsError listing every problem, one per line, each naming its file.
 */
export async function loadProbeScripts(dir: string, builtins: ReadonlyMap<string, AnyProbeDefinition>): Promise<Map<string, AnyProbeDefinition>> {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    names = readdirSync(dir).filter((f) => !f.startsWith('.') && [...JS, ...TS].some((ext) => f.endsWith(ext))).sort();
  } catch (err) {
    throw new ScriptsError([`cannot read the directory: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  if (names.length > MAX_SCRIPTS) throw new ScriptsError([`holds ${names.length} scripts; at most ${MAX_SCRIPTS} are loaded`]);

  const problems: string[] = [];
  const loaded = new Map<string, { definition: AnyProbeDefinition; file: string }>();
  for (const file of names) {
    const fail = (message: string) => problems.push(`${JSON.stringify(file)}: ${message}`);
    if (TS.some((ext) => file.endsWith(ext)) && !canImportTypeScript()) {
      fail(`TypeScript needs Node.js 22.18 or later (type stripping); this is ${process.version}: compile it to .js, or run a newer Node.js`);
      continue;
    }
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(join(dir, file)).href)) as Record<string, unknown>;
    } catch (err) {
      fail(`cannot be loaded: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`.slice(0, 300));
      continue;
    }
    const definition = mod.default;
    const problem = checkDefinition(definition);
    if (problem) {
      fail(problem);
      continue;
    }
    // The boundary where a script's plain object, checked field by field, is taken for a definition.
    const def = definition as AnyProbeDefinition;
    if (builtins.has(def.type)) {
      fail(`type "${def.type}" is a built-in probe type; choose another name`);
      continue;
    }
    const clash = loaded.get(def.type);
    if (clash) {
      fail(`type "${def.type}" is already defined by ${JSON.stringify(clash.file)}`);
      continue;
    }
    loaded.set(def.type, { definition: Object.freeze(def), file });
  }
  if (problems.length > 0) throw new ScriptsError(problems);
  return new Map([...loaded].map(([type, { definition }]) => [type, definition]));
}

export class ScriptsError extends Error {
  readonly code = 'CAMPROBE_ERR_PROBE_SCRIPTS';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

/** What is wrong with a module's default export as a ProbeDefinition, or undefined. */
function checkDefinition(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') {
    return 'must export a probe definition as default: export default { type, description, optionsSchema, run }';
  }
  const d = value as Record<string, unknown>;
  if (typeof d.type !== 'string' || !TYPE_NAME.test(d.type)) {
    return 'type must be 1 to 64 lowercase letters, digits or "_", starting with a letter';
  }
  if (typeof d.description !== 'string' || d.description === '') return 'description must be a non-empty string';
  if (typeof d.run !== 'function') return 'run must be a function (ctx) => Promise<void>';
  if (d.validate !== undefined && typeof d.validate !== 'function') return 'validate, when given, must be a function';
  const schema = d.optionsSchema as Record<string, unknown> | undefined;
  if (schema === null || typeof schema !== 'object' || schema.type !== 'object' || schema.additionalProperties !== false) {
    return 'optionsSchema must be a JSON Schema with type: "object" and additionalProperties: false (unknown options are refused)';
  }
  try {
    compileOptionsSchema(schema);
  } catch (err) {
    return `optionsSchema is not a valid schema: ${(err as Error).message.slice(0, 200)}`;
  }
  if (d.values !== undefined) {
    if (d.values === null || typeof d.values !== 'object') return 'values, when given, must map value names to help texts';
    for (const [name, help] of Object.entries(d.values)) {
      if (!VALUE_NAME.test(name) || name.startsWith('probe_') || name.startsWith('build_')) {
        return `value name "${name.slice(0, 64)}" must be lowercase snake_case, not starting with probe_ or build_`;
      }
      if (typeof help !== 'string' || help === '') return `value "${name}" needs a help text`;
    }
  }
  return undefined;
}
