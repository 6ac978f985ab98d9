// Runs the real `tessera` binary: one-shot commands, and servers whose ports are read from their logs.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const binary = fileURLToPath(new URL('../../../bin/tessera.js', import.meta.url));

/** A temporary working folder; removed by `remove()`. */
export interface Workspace {
  readonly dir: string;
  /** Environment for commands run here: cheap bcrypt, a KEK and an admin token; nothing inherited that configures Tessera. */
  readonly env: Record<string, string>;
  readonly adminToken: string;
  remove(): void;
}

export function createWorkspace(extraEnv: Record<string, string> = {}): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-e2e-'));
  const adminToken = randomBytes(24).toString('base64url');
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name, value]) => value !== undefined && !name.startsWith('TESSERA_') && name !== 'DATABASE_URL',
    ),
  ) as Record<string, string>;
  return {
    dir,
    adminToken,
    env: {
      ...inherited,
      TESSERA_BCRYPT_COST: '4',
      TESSERA_KEY_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      TESSERA_ADMIN_TOKEN: adminToken,
      ...extraEnv,
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `tessera <args>` to completion. */
export function runTessera(
  workspace: Workspace,
  args: readonly string[],
  options: { readonly input?: string; readonly env?: Record<string, string> } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binary, ...args], {
      cwd: workspace.dir,
      env: { ...workspace.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    // A command may stop reading before all of a large input is written (EPIPE): its exit tells.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** Parses a command's JSON output, failing with its stderr when it is not JSON. */
export function parseJson<T = Record<string, unknown>>(result: CommandResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${String(result.code)}): ${result.stdout}\n${result.stderr}`);
  }
}

/** A running `tessera serve`. */
export interface ServerProcess {
  readonly child: ChildProcess;
  readonly publicUrl: string;
  readonly adminUrl?: string;
  /** Every line written so far (stdout and stderr). */
  readonly output: () => string;
  /** Parsed JSON log lines so far. */
  readonly logs: () => Record<string, unknown>[];
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code once the process has ended. */
  readonly exited: Promise<number | null>;
}

/**
 * Starts `tessera serve` with both listeners on port 0 and waits for the log lines that name
 * the bound addresses.
 */
export async function startTessera(
  workspace: Workspace,
  args: readonly string[] = [],
  options: { readonly env?: Record<string, string>; readonly expectAdmin?: boolean } = {},
): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    [binary, 'serve', '--host', '127.0.0.1', '--port', '0', '--admin-port', '0', ...args],
    { cwd: workspace.dir, env: { ...workspace.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let text = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = new Promise<{ publicUrl: string; adminUrl?: string }>((resolve, reject) => {
    let publicUrl: string | undefined;
    let adminUrl: string | undefined;
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      publicUrl ??= /"listener":"public","url":"([^"]+)"/.exec(text)?.[1];
      adminUrl ??= /"listener":"admin","url":"([^"]+)"/.exec(text)?.[1];
      if (publicUrl && (adminUrl || options.expectAdmin === false)) {
        resolve({ publicUrl, ...(adminUrl ? { adminUrl } : {}) });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    void exited.then((code) =>
      reject(new Error(`tessera serve exited with ${String(code)} before listening:\n${text}`)),
    );
  });
  const urls = await ready;
  return {
    child,
    ...urls,
    output: () => text,
    logs: () =>
      text
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    exited,
  };
}

/** Form-encodes credentials for HTTP Basic, RFC 6749 §2.3.1. */
export function basic(id: string, secret: string): string {
  const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  return `Basic ${Buffer.from(`${encode(id)}:${encode(secret)}`).toString('base64')}`;
}

/** Requests a token with the client credentials grant; returns the parsed response and status. */
export async function requestToken(
  publicUrl: string,
  id: string,
  secret: string,
  form: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${publicUrl}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: basic(id, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...form }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
