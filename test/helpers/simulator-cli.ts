/** The simulator's command line as a child process, for tests of its flags. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

export const SIMULATOR_CLI = fileURLToPath(new URL('../../src/simulator/cli.js', import.meta.url));

/**
 * Starts `simulator/cli.js args` and resolves with its first stdout line ("listening on …")
 * and a `stop()` that sends SIGTERM and resolves with the exit code and signal. The test's
 * end stops it too, if it still runs.
 */
export async function startSimulatorCli(
  t: TestContext,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ line: string; stop: () => Promise<[number | null, NodeJS.Signals | null]> }> {
  const child = spawn(process.execPath, [SIMULATOR_CLI, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  t.after(stop);
  const [line] = (await once(child.stdout.setEncoding('utf8'), 'data')) as [string];
  return { line, stop };
}
