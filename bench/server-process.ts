// The benchmark's servers as child processes: each prints `READY <port>` (or, for the example,
// `serving on` at a port it was given), is frozen with SIGSTOP between its slices, and is never
// left behind: stopping continues it first, and where util-linux's setpriv is at hand the kernel
// kills it if the runner dies (even by SIGKILL), so no frozen server outlives a run.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface ServerSpec {
  /** The program and its arguments, e.g. `[process.execPath, '--import', 'tsx', script]`. */
  readonly command: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Pins the server (every thread) to this core with taskset. */
  readonly core?: number;
  /** The port the server was told to use; it then counts as ready once it prints `readyText`. */
  readonly chosenPort?: number;
  /** What a server given `chosenPort` prints once it listens; `serving on` unless told. */
  readonly readyText?: string;
  /** How long it may take to say it is ready; 60 s unless told. */
  readonly startTimeoutMs?: number;
  /** Names it in errors. */
  readonly name: string;
}

export interface ServerProcess {
  readonly port: number;
  readonly child: ChildProcess;
  /** The end of what it wrote to stderr, for error messages. */
  stderr(): string;
  /**
   * Freezes it (SIGSTOP) between its slices, so nothing it does while not measured (timers, V8
   * collecting garbage once it goes quiet, a store's polling) runs during another target's slice
   * on the shared core.
   */
  pause(): void;
  /** Lets a frozen server go on (SIGCONT). */
  resume(): void;
  /** How it ended (its exit code, or the signal that killed it), or undefined while it runs. */
  exited(): string | undefined;
  /** Continues it if frozen, asks it to end (SIGTERM), and kills it after `graceMs` (5 s). */
  stop(graceMs?: number): Promise<void>;
}

const setpriv = '/usr/bin/setpriv';
const taskset = '/usr/bin/taskset';

/** Whether a server is killed with its runner: setpriv can set the parent-death signal. */
export const diesWithRunner = process.platform === 'linux' && existsSync(setpriv);

/** Starts a server and resolves once it is ready, with the port it serves on. */
export async function startServerProcess(spec: ServerSpec): Promise<ServerProcess> {
  // Each wrapper execs the next, so the child's pid is the server's own (its CPU time is read by pid).
  const wrapped = [
    ...(diesWithRunner ? [setpriv, '--pdeathsig', 'KILL', '--'] : []),
    ...(spec.core !== undefined && existsSync(taskset) ? [taskset, '-c', String(spec.core)] : []),
    ...spec.command,
  ];
  const [file, ...args] = wrapped;
  const child = spawn(file!, args, { cwd: spec.cwd, env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let errorOutput = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    errorOutput = (errorOutput + chunk.toString()).slice(-4000);
  });
  const timeoutMs = spec.startTimeoutMs ?? 60_000;
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${spec.name} did not start in ${timeoutMs / 1000} s: ${errorOutput}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /READY (\d+)/.exec(output);
      if (match || (spec.chosenPort !== undefined && output.includes(spec.readyText ?? 'serving on'))) {
        clearTimeout(timer);
        child.off('exit', onExit);
        child.stdout!.off('data', onData);
        // Whatever it prints later is not read, but must not fill the pipe and block it.
        child.stdout!.resume();
        resolve(match ? Number(match[1]) : spec.chosenPort!);
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      reject(new Error(`${spec.name} exited with ${String(code ?? signal)}: ${errorOutput}`));
    };
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });

  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    port,
    child,
    stderr: () => errorOutput,
    pause() {
      if (running()) child.kill('SIGSTOP');
    },
    resume() {
      if (running()) child.kill('SIGCONT');
    },
    exited() {
      return running() ? undefined : String(child.exitCode ?? child.signalCode);
    },
    async stop(graceMs = 5000) {
      if (!running()) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // A frozen process would act on SIGTERM only once continued.
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
