// What the benchmark scripts share: pinning, the seed's token request, load with autocannon, and
// a server process's CPU time.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import autocannon from 'autocannon';

export const tokenRequestBody = 'grant_type=client_credentials';
/** The seed client's credentials, as client_secret_basic sends them. */
export const tokenRequestHeaders = {
  authorization: `Basic ${Buffer.from('test-client:foobar').toString('base64')}`,
  'content-type': 'application/x-www-form-urlencoded',
};

/** Whether servers can be pinned to core 0 and the load generator to core 1. */
export const canPin = existsSync('/usr/bin/taskset') && cpus().length >= 2;

/** Pins this process, every thread of it (libuv's pool too), to core 1 when {@link canPin}. */
export function pinLoadGeneratorToCore1(): void {
  if (canPin) execFileSync('taskset', ['-a', '-cp', '1', String(process.pid)], { stdio: 'ignore' });
}

/** `seconds` of the seed's token request at `connections` connections, as fast as answers come. */
export function loadWithTokenRequests(
  port: number,
  seconds: number,
  connections: number,
  path = '/token',
): Promise<autocannon.Result> {
  return autocannon({
    url: `http://127.0.0.1:${port}${path}`,
    method: 'POST',
    headers: tokenRequestHeaders,
    body: tokenRequestBody,
    connections,
    duration: seconds,
  });
}

/** User plus system CPU seconds used so far by process `pid`, from /proc; undefined elsewhere. */
export function cpuSecondsOf(pid: number | undefined): number | undefined {
  if (pid === undefined || !existsSync(`/proc/${pid}/stat`)) return undefined;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100;
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}
