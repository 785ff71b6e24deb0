/**
 * From a file to a parsed document: reading the text, finding `probe_scripts_dir` before
 * anything is validated (the scripts' probe types are needed to check the probe entries),
 * and parsing the YAML into plain data with the positions problems are sorted by.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { fsProblem, isFsError } from '../core/text.js';
import { interpolate } from './interpolate.js';
import { isObject } from './objects.js';
import { ConfigError, ConfigFileError } from './problems.js';

const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** The text of a configuration file; a ConfigFileError naming the file's absolute path when it cannot be read. */
export async function readConfigText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigFileError(resolve(path), isFsError(err) ? err.code : undefined, fsProblem(err));
  }
}

/** `probe_scripts_dir`, interpolated, when it is a usable string; anything else is left to parseConfig to report. */
export function scriptsDirOf(text: string, env: Record<string, string | undefined>): string | undefined {
  let raw: unknown;
  try {
    raw = parseDocument(text, { prettyErrors: false }).get('probe_scripts_dir');
  } catch {
    return undefined;
  }
  if (typeof raw !== 'string' || raw === '') return undefined;
  const result = interpolate(raw, env);
  return 'error' in result ? undefined : result.value;
}

/**
 * Parses configuration text into its YAML document (for positions) and its plain data, a
 * mapping. Throws a ConfigError when the text is too large, is not YAML, or is not a mapping.
 */
export function parseYaml(text: string, source: string): { doc: Document; data: Record<string, unknown> } {
  if (text.length > MAX_CONFIG_BYTES) throw new ConfigError(source, ['the file is larger than 16 MiB']);

  const lines = new LineCounter();
  // prettyErrors off: the pretty form quotes the source line, which could hold a secret.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: true });
  const yamlProblems = [...doc.errors, ...doc.warnings].map((e) => {
    const { line, col } = lines.linePos(e.pos[0]);
    return `line ${line}, column ${col}: ${e.message.split('\n')[0]}`;
  });
  if (yamlProblems.length > 0) throw new ConfigError(source, yamlProblems);

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new ConfigError(source, [err instanceof Error ? err.message : String(err)]);
  }
  if (!isObject(data)) {
    throw new ConfigError(source, ['top level: must be a mapping with "credentials" and "targets" (see config/camprobe.yaml)']);
  }
  return { doc, data };
}
