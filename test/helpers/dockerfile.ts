/** The parts of the Dockerfile the tests run outside Docker (test/package.test.ts, test/kubernetes.test.ts). */
import assert from 'node:assert/strict';

export interface Instruction {
  op: string;
  args: string;
}
export interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** The Dockerfile's build args and stages, continuation lines joined, comments dropped. */
export function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  const logical = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  for (const line of logical) {
    const [, op = '', rest = ''] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    const instr = { op: op.toUpperCase(), args: rest.replace(/\s+/g, ' ') };
    if (instr.op === 'FROM') {
      const [, from = '', name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instr.args) ?? [];
      stages.push({ from, ...(name ? { name } : {}), instructions: [] });
    } else if (stages.length === 0 && instr.op === 'ARG') {
      const [k = '', v = ''] = instr.args.split('=');
      args[k] = v;
    } else {
      stages.at(-1)?.instructions.push(instr);
    }
  }
  return { args, stages };
}

/** The one `op` instruction of `stage` that `pred` accepts (asserting there is exactly one). */
export function one(stage: Stage, op: string, pred: (args: string) => boolean = () => true): string {
  const found = stage.instructions.filter((i) => i.op === op && pred(i.args));
  assert.equal(found.length, 1, `the Dockerfile stage ${stage.name ?? stage.from} has one ${op}`);
  return found[0]!.args;
}

/** A JSON-array (exec form) instruction argument. */
export function execForm(args: string): string[] {
  const list = JSON.parse(args) as unknown;
  assert.ok(Array.isArray(list) && list.every((a) => typeof a === 'string'), `exec form expected: ${args}`);
  return list as string[];
}

/** The variables of an `ENV K=V K2=V2` instruction. */
export function envOf(args: string): Record<string, string> {
  const env: Record<string, string> = {};
  // KEY=value or KEY="a value with spaces".
  for (const [, k, quoted, bare] of args.matchAll(/(\w+)=(?:"([^"]*)"|(\S+))/g)) env[k!] = quoted ?? bare!;
  return env;
}
