import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { diesWithRunner, startServerProcess, type ServerProcess, type ServerSpec } from './server-process.js';

const rootDir = dirname(dirname(fileURLToPath(import.meta.url)));
const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-process-'));
const serverScript = join(dir, 'server.mjs');
writeFileSync(
  serverScript,
  `import { createServer } from 'node:http';
const server = createServer((req, res) => res.end('ok'));
server.listen(0, '127.0.0.1', () => process.stdout.write('READY ' + server.address().port + '\\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`,
);
const started: ServerProcess[] = [];

afterAll(async () => {
  await Promise.all(started.map((server) => server.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function startTestServer(extra: Partial<ServerSpec> = {}): Promise<ServerProcess> {
  const server = await startServerProcess({
    name: 'test server',
    command: [process.execPath, serverScript],
    cwd: dir,
    env: process.env,
    startTimeoutMs: 20_000,
    ...extra,
  });
  started.push(server);
  return server;
}

/** The scheduler state of a process (`T` when stopped), or undefined once it is gone. */
function stateOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Resolves the body of GET / once it comes. */
function answerOf(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return condition();
}

describe.skipIf(process.platform !== 'linux')('benchmark server processes', () => {
  it('a server is ready at the port it prints, and answers there', async () => {
    const server = await startTestServer();
    expect(server.port).toBeGreaterThan(0);
    expect(await answerOf(server.port)).toBe('ok');
  });

  it('a paused server is stopped and answers nothing until resumed; then the waiting request is answered', async () => {
    const server = await startTestServer();
    server.pause();
    expect(await waitFor(() => stateOf(server.child.pid!) === 'T', 5000)).toBe(true);
    let answered = false;
    const answer = answerOf(server.port).then((body) => {
      answered = true;
      return body;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(answered).toBe(false);
    server.resume();
    expect(await answer).toBe('ok');
    expect(stateOf(server.child.pid!)).not.toBe('T');
  });

  it('stopping a paused server ends it', async () => {
    const server = await startTestServer();
    server.pause();
    await server.stop(10_000);
    expect(server.child.exitCode ?? server.child.signalCode).not.toBeNull();
    expect(await waitFor(() => stateOf(server.child.pid!) === undefined, 5000)).toBe(true);
  });

  it('a server killed from outside says it ended by that signal; a running one says nothing', async () => {
    const server = await startTestServer();
    expect(server.exited()).toBeUndefined();
    const ended = once(server.child, 'exit');
    process.kill(server.child.pid!, 'SIGKILL');
    await ended;
    expect(server.exited()).toBe('SIGKILL');
  });

  it('a server that exits before it is ready is reported with what it wrote to stderr', async () => {
    await expect(
      startServerProcess({
        name: 'broken server',
        command: [process.execPath, '-e', 'console.error("no key file"); process.exit(3)'],
        cwd: dir,
        env: process.env,
      }),
    ).rejects.toThrow(/broken server exited with 3: no key file/);
  });

  it('a server that never says it is ready is killed after the start timeout', async () => {
    const attempt = startServerProcess({
      name: 'silent server',
      command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'],
      cwd: dir,
      env: process.env,
      startTimeoutMs: 500,
    });
    await expect(attempt).rejects.toThrow(/silent server did not start in 0.5 s/);
  });

  it.skipIf(!diesWithRunner)('a frozen server does not outlive a runner killed with SIGKILL', async () => {
    const runnerScript = join(dir, 'runner.mjs');
    writeFileSync(
      runnerScript,
      `const { startServerProcess } = await import(${JSON.stringify(pathToFileURL(join(rootDir, 'bench', 'server-process.ts')).href)});
const server = await startServerProcess({ name: 'orphan', command: [process.execPath, ${JSON.stringify(serverScript)}], cwd: ${JSON.stringify(dir)}, env: process.env });
server.pause();
process.stdout.write('PID ' + server.child.pid + '\\n');
setInterval(() => {}, 1000);
`,
    );
    const runner = spawn(process.execPath, ['--import', 'tsx', runnerScript], {
      cwd: rootDir,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    runner.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    expect(await waitFor(() => /PID (\d+)/.test(output), 20_000)).toBe(true);
    const pid = Number(/PID (\d+)/.exec(output)![1]);
    expect(await waitFor(() => stateOf(pid) === 'T', 5000)).toBe(true);

    runner.kill('SIGKILL');
    await once(runner, 'exit');
    // Killed by the kernel, then reaped by whichever process adopted it.
    const gone = await waitFor(() => stateOf(pid) === undefined || stateOf(pid) === 'Z', 5000);
    if (!gone) process.kill(pid, 'SIGKILL');
    expect(gone).toBe(true);
  });

  it('the wrappers exec the server itself: the pid is the pinned server process', async () => {
    const server = await startTestServer({ name: 'pinned server', core: 0 });
    const pid = server.child.pid!;
    expect(readlinkSync(`/proc/${pid}/exe`)).toBe(realpathSync(process.execPath));
    if (existsSync('/usr/bin/taskset')) {
      expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Cpus_allowed_list:\s+0$/m);
    }
  });
});
