// `npm run bench`: Tessera's token endpoint against the signing ceilings and two peers, on loopback.
//
// Each target is a server in its own child process pinned to core 0 (taskset); this process, the
// load generator, pins itself to core 1. Every server is started, checked and warmed up once and
// stays up for the whole run, frozen (SIGSTOP) whenever it is not being measured (and killed by the
// kernel if this runner dies: bench/server-process.ts). The list is
// then measured in several rounds of short slices, one target after another (in reverse order
// every other round), each slice after a brief warm-up and once the CPUs are idle. Each figure is
// the median of its rounds and each ratio the median of its per-round ratios: on a shared virtual
// machine a neighbour's burst then spoils a few slices, not a figure, and the two sides of a ratio
// are measured seconds apart, not minutes. Results are printed and written to
// bench/results/latest.json. Settings: BENCH_ROUNDS (default 5), BENCH_SECONDS (3 per slice),
// BENCH_WARMUP_SECONDS (2, once per server), BENCH_SLICE_WARMUP_SECONDS (1, before each slice),
// BENCH_CONNECTIONS (16), BENCH_ATTACK_RATE (200 per second), BENCH_ONLY.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { cpus, tmpdir, totalmem, type as osType, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import {
  canPin,
  cpuSecondsOf,
  loadWithTokenRequests,
  pinLoadGeneratorToCore1,
  tokenRequestBody,
  tokenRequestHeaders,
} from './load.js';
import { startServerProcess, type ServerProcess } from './server-process.js';
import {
  inMeasurementOrder,
  markdownTables,
  medianOf,
  rangeOfRounds,
  ratioOfRounds,
  type Measurement,
  type Ratio,
} from './stats.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const rootDir = dirname(benchDir);
const rounds = Math.max(1, Math.floor(Number(process.env.BENCH_ROUNDS ?? 5)));
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const sliceWarmupSeconds = Number(process.env.BENCH_SLICE_WARMUP_SECONDS ?? 1);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);
const attackRate = Number(process.env.BENCH_ATTACK_RATE ?? 200);

// ---- pinning -------------------------------------------------------------------------------

pinLoadGeneratorToCore1();

// ---- keys shared by every target -------------------------------------------------------------

const keyDir = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
const keyFiles = {
  RS256: writeKey('rs256.pem', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey),
  ES256: writeKey('es256.pem', generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey),
  EdDSA: writeKey('eddsa.pem', generateKeyPairSync('ed25519').privateKey),
};

function writeKey(name: string, key: { export(options: { type: 'pkcs8'; format: 'pem' }): string | Buffer }): string {
  const path = join(keyDir, name);
  writeFileSync(path, key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return path;
}

// ---- targets ---------------------------------------------------------------------------------

interface Target {
  readonly id: string;
  readonly label: string;
  /** A file in bench/targets, or (starting with `examples/`) a file from the repository root. */
  readonly script: string;
  readonly env: Readonly<Record<string, string>>;
  /** Whether its tokens are checked against a served JWK Set before measuring. */
  readonly tessera?: boolean;
  /** Where it answers token requests; `/token` unless told. */
  readonly tokenPath?: string;
}

const notes: string[] = [];
const targets: Target[] = [
  { id: 'bare-http', label: 'node:http, fixed JSON (ceiling)', script: 'bare-http.ts', env: {} },
  { id: 'adapter-http', label: 'node:http via web Request/Response, fixed JSON', script: 'adapter-http.ts', env: {} },
  { id: 'adapter-node', label: 'node:http via the node adapter, fixed JSON', script: 'adapter-node.ts', env: {} },
  ...(['RS256', 'ES256', 'EdDSA'] as const).map((alg) => ({
    id: `jose-${alg}`,
    label: `node:http + jose ${alg} (ceiling)`,
    script: 'jose-signer.ts',
    env: { BENCH_ALG: alg, BENCH_KEY_FILE: keyFiles[alg] },
  })),
  {
    // Exactly what `npm start` runs: SQLite under a fresh data folder, a rotating RSA-2048 key
    // sealed in it (same size as the ceiling's key, made by the example itself), compose() defaults.
    id: 'tessera-npm-start',
    label: 'Tessera seed as npm start runs it (SQLite, RS256)',
    script: 'examples/client-credentials/main.ts',
    env: { HOST: '127.0.0.1', ISSUER: 'http://127.0.0.1', TESSERA_DATA_DIR: join(keyDir, 'npm-start-data') },
    tessera: true,
  },
  tessera('tessera-memory-RS256', 'Tessera seed, memory, RS256', 'RS256', 'memory'),
  {
    // The ready server on the seed's own data folder (made by running the example once, see
    // start()): the same SQLite records, key and test-client, plus what an operator runs it for
    // (a JSON log line per request, metrics, request ids, the brute-force guard).
    id: 'tessera-serve',
    label: 'tessera serve on the seed data (SQLite, RS256)',
    script: 'bin/tessera.js',
    env: { TESSERA_ISSUER: 'http://127.0.0.1' },
    tessera: true,
    tokenPath: '/oauth2/token',
  },
];

function tessera(
  id: string,
  label: string,
  alg: 'RS256' | 'ES256',
  store: string,
  extra: Record<string, string> = {},
): Target {
  return {
    id,
    label,
    script: 'tessera.ts',
    env: { BENCH_ALG: alg, BENCH_KEY_FILE: keyFiles[alg], BENCH_STORE: store, ...extra },
    tessera: true,
  };
}

if (existsSync(join(rootDir, 'src/storage/sqlite/index.ts'))) {
  targets.push(
    tessera('tessera-sqlite-RS256', 'Tessera seed, SQLite (synchronous=full), RS256', 'RS256', 'sqlite', {
      BENCH_SQLITE_FILE: join(keyDir, 'full.db'),
    }),
    tessera(
      'tessera-sqlite-normal-RS256',
      'Tessera seed, SQLite (synchronous=normal), RS256',
      'RS256',
      'sqlite-normal',
      {
        BENCH_SQLITE_FILE: join(keyDir, 'normal.db'),
      },
    ),
  );
} else {
  notes.push('SQLite store not present (src/storage/sqlite): SQLite target skipped.');
}

const postgresSchema = `bench_${randomBytes(6).toString('hex')}`;
if (!existsSync(join(rootDir, 'src/storage/postgres/index.ts'))) {
  notes.push('PostgreSQL store not present (src/storage/postgres): PostgreSQL target skipped.');
} else {
  const postgresUser = await postgresReachable();
  if (postgresUser === undefined) {
    notes.push('PostgreSQL not reachable at 127.0.0.1:5432 (database test): PostgreSQL target skipped.');
  } else {
    targets.push(
      tessera('tessera-postgres-RS256', 'Tessera seed, PostgreSQL, RS256', 'RS256', 'postgres', {
        BENCH_PG_SCHEMA: postgresSchema,
        BENCH_PG_URL: `postgres://${postgresUser}@127.0.0.1:5432/test`,
      }),
    );
  }
}

targets.push(
  tessera('tessera-memory-ES256', 'Tessera, memory, ES256', 'ES256', 'memory'),
  tessera('tessera-stateless-ES256', 'Tessera, stateless (no records), ES256', 'ES256', 'memory', {
    BENCH_STATELESS: '1',
  }),
  {
    id: 'oidc-provider-RS256',
    label: 'oidc-provider 9, RS256 (plaintext secret)',
    script: 'oidc-provider.ts',
    env: { BENCH_ALG: 'RS256', BENCH_KEY_FILE: keyFiles.RS256 },
  },
  {
    id: 'oauth2-server-RS256',
    label: '@node-oauth/oauth2-server 5, RS256 (plaintext secret)',
    script: 'oauth2-server.ts',
    env: { BENCH_ALG: 'RS256', BENCH_KEY_FILE: keyFiles.RS256 },
  },
);

/** The user that can connect to the `test` database, or undefined when none can. */
async function postgresReachable(): Promise<string | undefined> {
  const { default: pg } = await import('pg');
  for (const user of ['postgres', 'root']) {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: 5432,
      user,
      database: 'test',
      connectionTimeoutMillis: 2000,
    });
    try {
      await client.connect();
      await client.end();
      return user;
    } catch {
      await client.end().catch(() => undefined);
    }
  }
  return undefined;
}

// ---- running a target ------------------------------------------------------------------------

/** A port free right now on 127.0.0.1, for targets that must be told theirs. */
async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function start(target: Target): Promise<ServerProcess> {
  if (target.id === 'tessera-serve') return startServe(target);
  const isExample = target.script.startsWith('examples/');
  const script = isExample ? join(rootDir, target.script) : join(benchDir, 'targets', target.script);
  const chosenPort = isExample ? await freePort() : undefined;
  return startServerProcess({
    name: target.id,
    command: [process.execPath, '--import', 'tsx', script],
    cwd: rootDir,
    env: { ...process.env, ...target.env, ...(chosenPort ? { PORT: String(chosenPort) } : {}), NODE_ENV: 'production' },
    ...(canPin ? { core: 0 } : {}),
    ...(chosenPort ? { chosenPort } : {}),
  });
}

/**
 * `tessera serve --dev` in a folder whose ./data the seed example made (test-client with its
 * bcrypt hash, a sealed RSA key, the development key-encryption key), as an operator who started
 * with `npm start` and moved to the server would have it. The CLI's own `clients create` refuses
 * the seed's six-byte secret, so the example seeds the folder.
 */
async function startServe(target: Target): Promise<ServerProcess> {
  const folder = join(keyDir, 'serve');
  const seeding = await freePort();
  const seed = await startServerProcess({
    name: `${target.id} (seeding)`,
    command: [process.execPath, '--import', 'tsx', join(rootDir, 'examples/client-credentials/main.ts')],
    cwd: rootDir,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(seeding), TESSERA_DATA_DIR: join(folder, 'data') },
    chosenPort: seeding,
  });
  await seed.stop();
  const port = await freePort();
  // Nothing of the runner's own environment configures the server.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('TESSERA_') && name !== 'DATABASE_URL'),
  );
  return startServerProcess({
    name: target.id,
    command: [
      process.execPath,
      join(rootDir, target.script),
      'serve',
      '--dev',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--admin-port',
      '0',
    ],
    cwd: folder,
    env: { ...inherited, ...target.env, NODE_ENV: 'production' },
    ...(canPin ? { core: 0 } : {}),
    chosenPort: port,
    readyText: '"listener":"public"',
  });
}

/** One token request, checked: a 200 with a JWT (verified against the JWK Set for Tessera). */
async function checkAnswer(target: Target, port: number): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${port}${target.tokenPath ?? '/token'}`, {
    method: 'POST',
    headers: tokenRequestHeaders,
    body: tokenRequestBody,
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status !== 200 || typeof body.access_token !== 'string') {
    throw new Error(`${target.id} answered ${response.status}: ${JSON.stringify(body)}`);
  }
  if (target.tessera) {
    const jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${port}/.well-known/jwks.json`));
    await jwtVerify(body.access_token, jwks, { typ: 'at+jwt', issuer: 'http://127.0.0.1' });
  }
}

function load(port: number, duration: number, path = '/token'): Promise<autocannon.Result> {
  return loadWithTokenRequests(port, duration, connections, path);
}

async function measured(
  port: number,
  pid: number | undefined,
  path?: string,
): Promise<[autocannon.Result, number | undefined]> {
  const before = cpuSecondsOf(pid);
  const result = await load(port, seconds, path);
  const after = cpuSecondsOf(pid);
  return [result, before === undefined || after === undefined ? undefined : after - before];
}

function summarize(
  target: Target,
  result: autocannon.Result,
  cpuSeconds: number | undefined,
  idleBefore: number | undefined,
): Measurement {
  const ok = result['2xx'];
  return {
    id: target.id,
    label: target.label,
    tokensPerSecond: Math.round(ok / result.duration),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    seconds: Math.round(result.duration * 10) / 10,
    serverCpuSeconds: cpuSeconds === undefined ? undefined : Math.round(cpuSeconds * 100) / 100,
    tokensPerCpuSecond: cpuSeconds ? Math.round(ok / cpuSeconds) : undefined,
    idleBefore: idleBefore === undefined ? undefined : Math.round(idleBefore * 100) / 100,
  };
}

/**
 * Waits (at most 30 s) until the CPUs are at least 90% idle over half a second; returns the idle
 * share last seen, so a report can show when other work was running.
 */
async function waitForIdle(): Promise<number | undefined> {
  if (!existsSync('/proc/stat')) {
    await sleep(1000);
    return undefined;
  }
  const sample = () => {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3]! + (fields[4] ?? 0);
    return { idle, total: fields.reduce((sum, value) => sum + value, 0) };
  };
  const deadline = Date.now() + 30_000;
  let idle = 0;
  while (Date.now() < deadline) {
    const before = sample();
    await sleep(500);
    const after = sample();
    idle = (after.idle - before.idle) / Math.max(1, after.total - before.total);
    if (idle >= 0.9) break;
  }
  return idle;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts a target's server, checks one answer and warms it up; undefined (with a note) if it fails. */
async function bringUp(target: Target): Promise<ServerProcess | undefined> {
  let started: ServerProcess | undefined;
  try {
    started = await start(target);
    await checkAnswer(target, started.port);
    await load(started.port, warmupSeconds, target.tokenPath);
    started.pause();
    console.log(`  ${target.label}: up on port ${started.port}, answer checked, warmed up`);
    return started;
  } catch (error) {
    const message = `${target.id} failed to start: ${error instanceof Error ? error.message : String(error)}`;
    notes.push(message);
    console.log(`  ${message}`);
    if (started) await started.stop();
    return undefined;
  }
}

/** One measured slice of a running server: a brief warm-up, then `seconds` of load. */
async function measureSlice(target: Target, started: ServerProcess): Promise<Measurement | undefined> {
  try {
    // Killed by a signal, a server has no exit code: ask how it ended, whichever way that was.
    const ended = started.exited();
    if (ended !== undefined) throw new Error(`exited with ${ended}: ${started.stderr()}`);
    started.resume();
    // Timers and collections the pause held back run now, before the machine counts as idle.
    const idle = await waitForIdle();
    await load(started.port, sliceWarmupSeconds, target.tokenPath);
    const [result, cpu] = await measured(started.port, started.child.pid, target.tokenPath);
    started.pause();
    const measurement = summarize(target, result, cpu, idle);
    print(measurement);
    return measurement;
  } catch (error) {
    started.pause();
    const message = `${target.id} failed: ${error instanceof Error ? error.message : String(error)}`;
    notes.push(message);
    console.log(`  ${message}`);
    return undefined;
  }
}

// ---- the attack scenario ---------------------------------------------------------------------

interface AttackResult {
  /** Medians over the rounds. */
  readonly baseline: Measurement;
  readonly underAttack: Measurement;
  /** Each round's pair, measured back to back. */
  readonly baselineRounds: readonly Measurement[];
  readonly underAttackRounds: readonly Measurement[];
  readonly legitimate429: number;
  readonly attackSent: number;
  readonly attackAnswers: Record<string, number>;
}

/**
 * The guarded seed server, measured in `rounds` pairs of slices: alone, then while `attackRate`
 * wrong-secret requests per second for the same client arrive from 127.0.0.2 (the legitimate
 * load comes from 127.0.0.1). The first attacked slice includes the attacker's first guesses,
 * hashed before the limits close; the later ones show the attack once it is held off.
 */
async function attackScenario(): Promise<AttackResult | undefined> {
  const target = tessera('tessera-guarded-RS256', 'Tessera seed + brute-force guard, RS256', 'RS256', 'memory', {
    BENCH_GUARD: '1',
  });
  let started: ServerProcess | undefined;
  const answers: Record<string, number> = {};
  let sent = 0;
  let legitimate429 = 0;
  const baselineRounds: Measurement[] = [];
  const underAttackRounds: Measurement[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  try {
    started = await start(target);
    await checkAnswer(target, started.port);
    await load(started.port, warmupSeconds);
    const port = started.port;
    const fire = () => {
      sent++;
      const secret = `wrong-${sent}`;
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/token',
          method: 'POST',
          agent,
          localAddress: '127.0.0.2',
          headers: {
            authorization: `Basic ${Buffer.from(`test-client:${secret}`).toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
        },
        (res) => {
          answers[String(res.statusCode)] = (answers[String(res.statusCode)] ?? 0) + 1;
          res.resume();
        },
      );
      req.on('error', () => {
        answers.error = (answers.error ?? 0) + 1;
      });
      req.end(tokenRequestBody);
    };
    // Ten ticks a second, each sending a tenth of the rate.
    const perTick = Math.max(1, Math.round(attackRate / 10));
    for (let round = 1; round <= rounds; round++) {
      const idle = await waitForIdle();
      await load(started.port, sliceWarmupSeconds);
      const [baselineResult, baselineCpu] = await measured(started.port, started.child.pid);
      const baseline = summarize({ ...target, label: `${target.label}, no attack` }, baselineResult, baselineCpu, idle);
      print(baseline);
      baselineRounds.push(baseline);

      const timer = setInterval(() => {
        for (let index = 0; index < perTick; index++) fire();
      }, 100);
      let underAttackResult: autocannon.Result;
      let underAttackCpu: number | undefined;
      try {
        [underAttackResult, underAttackCpu] = await measured(started.port, started.child.pid);
      } finally {
        clearInterval(timer);
        await sleep(300);
      }
      const underAttack = summarize(
        { ...target, label: `${target.label}, under attack` },
        underAttackResult,
        underAttackCpu,
        undefined,
      );
      print(underAttack);
      underAttackRounds.push(underAttack);
      legitimate429 += underAttackResult.statusCodeStats?.['429']?.count ?? 0;
    }
    console.log(`  attack: sent ${sent} wrong-secret requests from 127.0.0.2; answers ${JSON.stringify(answers)}`);
    return {
      baseline: medianOf(baselineRounds),
      underAttack: medianOf(underAttackRounds),
      baselineRounds,
      underAttackRounds,
      legitimate429,
      attackSent: sent,
      attackAnswers: answers,
    };
  } catch (error) {
    notes.push(`attack scenario failed: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  } finally {
    agent.destroy();
    if (started) await started.stop();
  }
}

// ---- report ----------------------------------------------------------------------------------

function print(measurement: Measurement): void {
  console.log(
    `  ${measurement.label.padEnd(58)} ${String(measurement.tokensPerSecond).padStart(7)} tokens/s` +
      `  p50 ${String(measurement.p50Ms).padStart(4)} ms  p99 ${String(measurement.p99Ms).padStart(4)} ms` +
      `  non-2xx ${measurement.non2xx}  errors ${measurement.errors}` +
      `  ${measurement.tokensPerCpuSecond ?? 'n/a'} tokens/CPU-s` +
      (measurement.idleBefore === undefined ? '' : `  (idle before ${Math.round(measurement.idleBefore * 100)}%)`),
  );
}

const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  os: `${osType()} ${release()}`,
  node: process.version,
  pinned: canPin
    ? 'server on core 0, load generator on core 1 (taskset)'
    : 'not pinned (taskset or a second core missing)',
};

console.log(`Tessera benchmark: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; ${machine.pinned}`);
console.log(
  `${connections} connections, ${warmupSeconds} s warm-up per server, then per target and round ` +
    `${sliceWarmupSeconds} s warm-up and ${seconds} s measured, ` +
    `${rounds} round${rounds === 1 ? '' : 's'}, loopback only`,
);

const results: Record<string, Measurement> = {};
// Per target, its measurement of each round by round index (a hole where a slice failed).
const roundsOf: Record<string, (Measurement | undefined)[]> = {};
// BENCH_ONLY=id,id… runs a subset (for profiling); a published run runs everything.
const only = process.env.BENCH_ONLY?.split(',');
// Measured in this order (reports keep the list's): the two sides of each ratio with a target sit
// at most three slices apart, most of them next to each other.
const measurementOrder = [
  'bare-http',
  'adapter-http',
  'adapter-node',
  'jose-EdDSA',
  'jose-ES256',
  'tessera-memory-ES256',
  'tessera-stateless-ES256',
  'oauth2-server-RS256',
  'oidc-provider-RS256',
  'jose-RS256',
  'tessera-npm-start',
  'tessera-serve',
  'tessera-memory-RS256',
  'tessera-sqlite-RS256',
  'tessera-sqlite-normal-RS256',
  'tessera-postgres-RS256',
];
const selected = inMeasurementOrder(
  targets.filter((target) => !only || only.includes(target.id)),
  measurementOrder,
);
try {
  const running = new Map<string, ServerProcess>();
  try {
    console.log('\nstarting every server');
    for (const target of selected) {
      const started = await bringUp(target);
      if (started) running.set(target.id, started);
    }
    for (let round = 1; round <= rounds; round++) {
      console.log(`\nround ${round} of ${rounds}`);
      // Every other round runs the list backwards, so no target always comes first or last.
      const order = round % 2 === 1 ? selected : [...selected].reverse();
      for (const target of order) {
        const started = running.get(target.id);
        if (!started) continue;
        const measurement = await measureSlice(target, started);
        (roundsOf[target.id] ??= [])[round - 1] = measurement;
      }
    }
  } finally {
    for (const started of running.values()) await started.stop();
  }
  console.log(`\nMedians of ${rounds} round${rounds === 1 ? '' : 's'} (idle before: the lowest seen):`);
  for (const target of targets) {
    const measured = roundsOf[target.id]?.filter((m): m is Measurement => m !== undefined);
    if (!measured || measured.length === 0) continue;
    results[target.id] = medianOf(measured);
    print(results[target.id]!);
  }
  console.log(
    `\nthe brute-force scenario (${rounds} rounds, each a slice without and a slice under attack, back to back)`,
  );
  const attack = only && !only.includes('attack') ? undefined : await attackScenario();

  // A ratio is taken within each round, where both figures were measured seconds apart, and
  // the median of those is reported: a machine whose speed drifts during the run moves both
  // figures of a round alike, but not the medians of figures from different rounds.
  const figuresOf = (field: 'tokensPerSecond' | 'tokensPerCpuSecond', id: string) =>
    (roundsOf[id] ?? (results[id] ? [results[id]] : [])).map((m) => m?.[field]);
  const ratioOf = (field: 'tokensPerSecond' | 'tokensPerCpuSecond', a: string, b: string): number | undefined =>
    ratioOfRounds(figuresOf(field, a), figuresOf(field, b));
  const ratios: Ratio[] = [];
  const add = (name: string, a: string, b: string, atLeast?: number) => {
    const value = ratioOf('tokensPerSecond', a, b);
    const cpuValue = ratioOf('tokensPerCpuSecond', a, b);
    const range = rangeOfRounds(figuresOf('tokensPerSecond', a), figuresOf('tokensPerSecond', b));
    ratios.push({
      name,
      value,
      cpuValue,
      ...(range === undefined ? {} : { range }),
      ...(atLeast === undefined
        ? {}
        : {
            target: `≥ ${atLeast}`,
            holds: value !== undefined && value >= atLeast,
            holdsByCpu: cpuValue !== undefined && cpuValue >= atLeast,
          }),
    });
  };
  add('seed as npm start runs it / jose RS256 ceiling', 'tessera-npm-start', 'jose-RS256', 0.95);
  add('seed as npm start runs it / oidc-provider', 'tessera-npm-start', 'oidc-provider-RS256', 1.2);
  add('seed (memory, RS256) / jose RS256 ceiling', 'tessera-memory-RS256', 'jose-RS256', 0.95);
  add('tessera serve on the seed data / seed as npm start runs it', 'tessera-serve', 'tessera-npm-start');
  add('seed (memory, RS256) / oidc-provider', 'tessera-memory-RS256', 'oidc-provider-RS256', 1.2);
  add('seed (memory, RS256) / oauth2-server', 'tessera-memory-RS256', 'oauth2-server-RS256');
  add('seed (memory, RS256) / bare node:http', 'tessera-memory-RS256', 'bare-http');
  add('web Request/Response adapter / bare node:http', 'adapter-http', 'bare-http');
  add('node adapter / bare node:http', 'adapter-node', 'bare-http');
  add('oidc-provider / jose RS256 ceiling', 'oidc-provider-RS256', 'jose-RS256');
  add('oauth2-server / jose RS256 ceiling', 'oauth2-server-RS256', 'jose-RS256');
  add('Tessera ES256 / jose ES256 ceiling', 'tessera-memory-ES256', 'jose-ES256', 1.2);
  add('Tessera ES256, stateless / jose ES256 ceiling', 'tessera-stateless-ES256', 'jose-ES256');
  add('seed SQLite (full) / seed memory', 'tessera-sqlite-RS256', 'tessera-memory-RS256', 0.85);
  add('seed SQLite (normal) / seed memory', 'tessera-sqlite-normal-RS256', 'tessera-memory-RS256', 0.85);
  add('seed PostgreSQL / seed memory', 'tessera-postgres-RS256', 'tessera-memory-RS256', 0.85);
  if (attack) {
    results['attack-baseline'] = attack.baseline;
    results['attack-under-attack'] = attack.underAttack;
    roundsOf['attack-baseline'] = [...attack.baselineRounds];
    roundsOf['attack-under-attack'] = [...attack.underAttackRounds];
    add(
      `legitimate throughput kept under ${attackRate} wrong secrets/s`,
      'attack-under-attack',
      'attack-baseline',
      0.8,
    );
  }

  console.log(
    '\nRatios, medians of the per-round ratios (by tokens/s; by tokens per server CPU-second; the rounds by tokens/s from lowest to highest):',
  );
  const show = (value: number | undefined) => (value === undefined ? 'n/a' : value.toFixed(3)).padStart(6);
  for (const entry of ratios) {
    const verdict =
      entry.target === undefined
        ? ''
        : `  target ${entry.target}: ${entry.holds ? 'holds' : 'does NOT hold'} / ${entry.holdsByCpu ? 'holds' : 'does NOT hold'}`;
    const range = entry.range === undefined ? '' : `  rounds ${entry.range[0].toFixed(3)}–${entry.range[1].toFixed(3)}`;
    console.log(`  ${entry.name.padEnd(58)} ${show(entry.value)} ${show(entry.cpuValue)}${range}${verdict}`);
  }
  if (attack) {
    console.log(`  legitimate client saw ${attack.legitimate429} × 429 under attack (target: 0)`);
  }
  for (const note of notes) console.log(`note: ${note}`);

  mkdirSync(join(benchDir, 'results'), { recursive: true });
  const report = {
    date: new Date().toISOString(),
    machine,
    settings: { connections, warmupSeconds, sliceWarmupSeconds, seconds, rounds, attackRate },
    results,
    rounds: roundsOf,
    attack,
    ratios,
    notes,
  };
  writeFileSync(join(benchDir, 'results', 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  const published = [
    ...targets.map((target) => results[target.id]),
    results['attack-baseline'],
    results['attack-under-attack'],
  ];
  writeFileSync(
    join(benchDir, 'results', 'latest.md'),
    markdownTables(
      published.filter((m): m is Measurement => m !== undefined),
      ratios,
    ),
  );
  console.log('\nwritten to bench/results/latest.json and bench/results/latest.md (the tables README publishes)');
} finally {
  rmSync(keyDir, { recursive: true, force: true });
  await dropPostgresSchema();
}

async function dropPostgresSchema(): Promise<void> {
  if (!targets.some((target) => target.id === 'tessera-postgres-RS256')) return;
  const { default: pg } = await import('pg');
  for (const user of ['postgres', 'root']) {
    const client = new pg.Client({ host: '127.0.0.1', port: 5432, user, database: 'test' });
    try {
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${postgresSchema}" CASCADE`);
      await client.end();
      return;
    } catch {
      await client.end().catch(() => undefined);
    }
  }
}
