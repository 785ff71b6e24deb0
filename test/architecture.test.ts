/**
 * The layers of docs/architecture.md, checked with dependency-cruiser (the rules are in
 * .dependency-cruiser.cjs), and the size limits the architecture promises a reader.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFile, cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { DOCUMENTED_METHOD_ROLES } from '../src/config/methods.js';
import { SIM_DEFAULT_METHOD_ROLES } from '../src/simulator/simulator.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const run = promisify(execFile);

/** Runs dependency-cruiser over `src` in `cwd`; resolves with its exit code and report. */
async function cruise(cwd: string): Promise<{ code: number; report: string }> {
  try {
    const { stdout } = await run(process.execPath, [DEPCRUISE, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd });
    return { code: 0, report: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, report: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

test('src has no import cycle and no import against the layer order', async () => {
  const { code, report } = await cruise(ROOT);
  assert.equal(code, 0, report);
  assert.match(report, /no dependency violations found \((\d+) modules/);
  // The cruise saw the code: a config that matched nothing would also report no violations.
  const modules = Number(/\((\d+) modules/.exec(report)?.[1]);
  assert.ok(modules >= 50, `only ${modules} modules cruised`);
});

test('the layer check fails on a type-only cycle and on an upward import', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'camprobe-layers-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(join(ROOT, 'src'), join(dir, 'src'), { recursive: true });
  for (const file of ['tsconfig.json', '.dependency-cruiser.cjs']) await cp(join(ROOT, file), join(dir, file));
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  // core → runner (upward), and with runner → core a cycle made only of type imports.
  await appendFile(join(dir, 'src/core/outcome.ts'), "\nimport type { RunRequest } from '../runner/runner.js';\nexport type Leak = RunRequest;\n");
  // The simulator borrowing camprobe's table would mirror camprobe's mistakes.
  await appendFile(join(dir, 'src/simulator/simulator.ts'), "\nexport { DOCUMENTED_METHOD_ROLES } from '../config/methods.js';\n");
  const { code, report } = await cruise(dir);
  assert.notEqual(code, 0, report);
  assert.match(report, /no-circular: src\/core\/outcome\.ts/);
  assert.match(report, /core-not-to-runner: src\/core\/outcome\.ts → src\/runner\/runner\.ts/);
  assert.match(report, /simulator-stands-alone: src\/simulator\/simulator\.ts → src\/config\/methods\.ts/);
});

test("camprobe's documented method table agrees with the simulator's own, written apart", () => {
  assert.notEqual(DOCUMENTED_METHOD_ROLES, SIM_DEFAULT_METHOD_ROLES, 'the simulator must not share the object');
  assert.deepEqual({ ...DOCUMENTED_METHOD_ROLES }, { ...SIM_DEFAULT_METHOD_ROLES });
});

/** Files allowed past 500 lines, each with why (docs/architecture.md repeats it). */
const LONG_FILES: Readonly<Record<string, string>> = {
  'src/simulator/simulator.ts': 'the stand-in service with every fault; not camprobe itself',
};
const MAX_FILE_LINES = 500;
const MAX_FUNCTION_LINES = 80;

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Files and functions over the limits under `root/src`, as `path[:line name]: N lines`. */
async function oversized(root: string): Promise<string[]> {
  const found: string[] = [];
  for (const file of await sourceFiles(join(root, 'src'))) {
    const name = relative(root, file);
    const text = await readFile(file, 'utf8');
    const source = ts.createSourceFile(name, text, ts.ScriptTarget.ES2022, true);
    const lines = source.getLineAndCharacterOfPosition(source.end).line + 1;
    if (lines > MAX_FILE_LINES && !(name in LONG_FILES)) found.push(`${name}: ${lines} lines`);
    if (name.startsWith('src/simulator/')) continue;
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const start = source.getLineAndCharacterOfPosition(node.getStart()).line;
        const end = source.getLineAndCharacterOfPosition(node.end).line;
        if (end - start + 1 > MAX_FUNCTION_LINES) {
          const fn = (node as ts.FunctionLikeDeclaration).name?.getText() ?? '(anonymous)';
          found.push(`${name}:${start + 1} ${fn}: ${end - start + 1} lines`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

test(`no file in src over ${MAX_FILE_LINES} lines and no function over ${MAX_FUNCTION_LINES}, but the listed exceptions`, async () => {
  assert.deepEqual(await oversized(ROOT), []);
});

test('the size check finds a long function and a long file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'camprobe-size-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'src'));
  const body = Array.from({ length: MAX_FUNCTION_LINES }, (_, i) => `  const v${i} = ${i};`).join('\n');
  const filler = Array.from({ length: MAX_FILE_LINES }, (_, i) => `export const c${i} = ${i};`).join('\n');
  await writeFile(join(dir, 'src/long.ts'), `export function long(): void {\n${body}\n}\n${filler}\n`);
  assert.deepEqual(await oversized(dir), [`src/long.ts: ${MAX_FILE_LINES + MAX_FUNCTION_LINES + 3} lines`, `src/long.ts:1 long: ${MAX_FUNCTION_LINES + 2} lines`]);
});
