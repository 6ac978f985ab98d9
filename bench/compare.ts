// `npm run bench:compare -- A.ts B.ts …`: which of a few servers spends less CPU per answer.
//
// Made for judging a change to the hot path: run the old and the new version side by side (the
// old one from a git worktree, as README shows). Each script is a server that prints `READY <port>`
// as bench/targets/* do and answers the seed's token request at BENCH_PATH (`/token`). The
// servers are pinned to core 0 and this process, the load generator, to core 1; they take turns
// in slices, in reverse order every other round, frozen while the others are measured. Each slice
// reads the server's CPU time from /proc, so what is compared is CPU per answered request: the
// host's neighbours move it far less than requests per second, which it prints too. Settings: BENCH_ROUNDS (8),
// BENCH_SECONDS (3 per slice), BENCH_CONNECTIONS (16), BENCH_PATH; every other variable reaches
// the servers as it is (bench/targets/tessera.ts wants BENCH_ALG, BENCH_KEY_FILE, BENCH_STORE).

import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canPin, cpuSecondsOf, loadWithTokenRequests, pinLoadGeneratorToCore1 } from './load.js';
import { startServerProcess, type ServerProcess } from './server-process.js';
import { median, separation } from './stats.js';

const rootDir = dirname(dirname(fileURLToPath(import.meta.url)));
const rounds = Math.max(1, Math.floor(Number(process.env.BENCH_ROUNDS ?? 8)));
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);
const path = process.env.BENCH_PATH ?? '/token';

const scripts = process.argv.slice(2);
if (scripts.length < 2) {
  console.error('usage: npm run bench:compare -- <server script> <server script> [...]');
  process.exit(2);
}

pinLoadGeneratorToCore1();

interface Contender {
  readonly script: string;
  readonly server: ServerProcess;
  /** Microseconds of server CPU per 2xx answer, one per slice. */
  readonly slices: number[];
  /** 2xx answers per second, one per slice: what the host's neighbours move more. */
  readonly rates: number[];
  /** Answers that were not 2xx, plus connection errors and timeouts. */
  failed: number;
}

const contenders: Contender[] = [];
try {
  for (const script of scripts) {
    const server = await startServerProcess({
      name: script,
      command: [process.execPath, '--import', 'tsx', resolve(rootDir, script)],
      cwd: rootDir,
      env: { ...process.env, NODE_ENV: 'production' },
      ...(canPin ? { core: 0 } : {}),
    });
    contenders.push({ script, server, slices: [], rates: [], failed: 0 });
    await loadWithTokenRequests(server.port, 2, connections, path);
    server.pause();
  }
  console.log(
    `${rounds} rounds of ${seconds} s slices at ${connections} connections; ` +
      (canPin ? 'servers on core 0, load on core 1' : 'not pinned (no taskset or one core)'),
  );
  for (let round = 0; round < rounds; round++) {
    for (const contender of round % 2 === 0 ? contenders : [...contenders].reverse()) {
      const { server } = contender;
      const ended = server.exited();
      if (ended !== undefined) throw new Error(`${contender.script} exited with ${ended}: ${server.stderr()}`);
      server.resume();
      await loadWithTokenRequests(server.port, 1, connections, path);
      const before = cpuSecondsOf(server.child.pid);
      const result = await loadWithTokenRequests(server.port, seconds, connections, path);
      const after = cpuSecondsOf(server.child.pid);
      server.pause();
      contender.failed += result.non2xx + result.errors + result.timeouts;
      if (before === undefined || after === undefined || result['2xx'] === 0) continue;
      contender.slices.push(((after - before) * 1e6) / result['2xx']);
      contender.rates.push(result['2xx'] / seconds);
    }
    process.stdout.write(`round ${round + 1} of ${rounds} done\n`);
  }

  const [first] = contenders;
  const firstMedian = median(first!.slices);
  const firstRate = median(first!.rates);
  for (const contender of contenders) {
    const middle = median(contender.slices);
    const sorted = [...contender.slices].sort((a, b) => a - b);
    const versusFirst =
      contender === first || middle === undefined || firstMedian === undefined
        ? ''
        : `  ${(middle / firstMedian).toFixed(3)}× the first, every slice ` +
          { below: 'below it', above: 'above it', overlapping: 'not clear of it' }[
            separation(contender.slices, first!.slices)
          ];
    console.log(
      `${contender.script.padEnd(40)} ${middle === undefined ? 'n/a' : middle.toFixed(1)} µs CPU per answer` +
        `  (slices ${sorted.map((value) => value.toFixed(1)).join(' ')}; failed ${contender.failed})${versusFirst}`,
    );
    const rate = median(contender.rates);
    const rateVersusFirst =
      contender === first || rate === undefined || firstRate === undefined
        ? ''
        : `  ${(rate / firstRate).toFixed(3)}× the first`;
    console.log(`${''.padEnd(40)} ${rate === undefined ? 'n/a' : rate.toFixed(0)} answers/s${rateVersusFirst}`);
  }
} finally {
  await Promise.all(contenders.map(({ server }) => server.stop()));
}
