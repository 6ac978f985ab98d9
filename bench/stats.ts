// The arithmetic of a benchmark report: medians of rounds and ratios taken within rounds.

/** One target's figures from one round. */
export interface Measurement {
  readonly id: string;
  readonly label: string;
  readonly tokensPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly seconds: number;
  /** CPU time the server process (all its threads) used while measured. */
  readonly serverCpuSeconds: number | undefined;
  /** Tokens per second of server CPU: what one fully busy core would issue; robust to other load. */
  readonly tokensPerCpuSecond: number | undefined;
  /** How idle the machine's CPUs were just before the target was measured, 0 to 1. */
  readonly idleBefore: number | undefined;
}

/**
 * `items` in the order their ids appear in `order`; ids `order` does not name follow, in their
 * own order. The runner measures the two sides of each ratio next to each other this way, so
 * that a drift of the host's speed within a round moves both alike.
 */
export function inMeasurementOrder<Item extends { readonly id: string }>(
  items: readonly Item[],
  order: readonly string[],
): Item[] {
  const rank = (item: Item): number => {
    const index = order.indexOf(item.id);
    return index === -1 ? order.length : index;
  };
  // Array.prototype.sort is stable: unnamed items keep their relative order.
  return [...items].sort((a, b) => rank(a) - rank(b));
}

/** The median of the numbers given (the mean of the middle two for an even count); undefined for none. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * The median round of a target's measurements, by each figure on its own: tokens/s, latency and
 * tokens per CPU-second may come from different rounds. Counts (requests, non-2xx, errors) and
 * seconds are summed over the rounds, so no failure is hidden by the median; the idle share is
 * the lowest seen.
 */
export function medianOf(rounds: readonly Measurement[]): Measurement {
  if (rounds.length === 0) throw new RangeError('medianOf needs at least one round');
  const middle = (pick: (measurement: Measurement) => number | undefined): number | undefined => {
    const value = median(rounds.map(pick).filter((figure): figure is number => figure !== undefined));
    return value === undefined ? undefined : Math.round(value * 100) / 100;
  };
  const sum = (pick: (measurement: Measurement) => number): number => rounds.reduce((total, m) => total + pick(m), 0);
  const idle = rounds.map((m) => m.idleBefore).filter((share): share is number => share !== undefined);
  return {
    id: rounds[0]!.id,
    label: rounds[0]!.label,
    tokensPerSecond: Math.round(middle((m) => m.tokensPerSecond)!),
    p50Ms: middle((m) => m.p50Ms)!,
    p99Ms: middle((m) => m.p99Ms)!,
    requests: sum((m) => m.requests),
    non2xx: sum((m) => m.non2xx),
    errors: sum((m) => m.errors),
    seconds: Math.round(sum((m) => m.seconds) * 10) / 10,
    serverCpuSeconds: middle((m) => m.serverCpuSeconds),
    tokensPerCpuSecond: rounded(middle((m) => m.tokensPerCpuSecond)),
    idleBefore: idle.length === 0 ? undefined : Math.min(...idle),
  };
}

function rounded(value: number | undefined): number | undefined {
  return value === undefined ? undefined : Math.round(value);
}

/**
 * The ratio `top / bottom` of one figure, taken round by round and reduced to the median of
 * those ratios (rounded to three decimals). Both figures of a round were measured close together,
 * so a machine whose speed drifts over the run moves both alike; a ratio of medians from
 * different rounds would not cancel that. Rounds are paired by their `round` index; a round
 * missing either figure (a failed or skipped measurement, or a zero bottom) is left out.
 */
export function ratioOfRounds(
  top: readonly (number | undefined)[],
  bottom: readonly (number | undefined)[],
): number | undefined {
  const value = median(perRoundRatios(top, bottom));
  return value === undefined ? undefined : roundToThousandths(value);
}

/**
 * The lowest and highest of the per-round ratios {@link ratioOfRounds} takes the median of
 * (rounded to three decimals): how far apart the rounds put a ratio, which shows a run the host
 * disturbed without hiding it behind the median. Undefined when no round has both figures.
 */
export function rangeOfRounds(
  top: readonly (number | undefined)[],
  bottom: readonly (number | undefined)[],
): readonly [number, number] | undefined {
  const ratios = perRoundRatios(top, bottom);
  if (ratios.length === 0) return undefined;
  return [roundToThousandths(Math.min(...ratios)), roundToThousandths(Math.max(...ratios))];
}

/** `top / bottom` for each round that has both figures and a bottom above zero, paired by index. */
function perRoundRatios(top: readonly (number | undefined)[], bottom: readonly (number | undefined)[]): number[] {
  const ratios: number[] = [];
  for (let round = 0; round < Math.min(top.length, bottom.length); round++) {
    const a = top[round];
    const b = bottom[round];
    if (a !== undefined && b !== undefined && b > 0) ratios.push(a / b);
  }
  return ratios;
}

function roundToThousandths(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** A ratio between two targets as reported, with its target line when the issue sets one. */
export interface Ratio {
  readonly name: string;
  /** From tokens per second. */
  readonly value: number | undefined;
  /** From tokens per server CPU-second. */
  readonly cpuValue: number | undefined;
  /** The lowest and highest per-round ratio by tokens per second (see {@link rangeOfRounds}). */
  readonly range?: readonly [number, number];
  readonly target?: string;
  readonly holds?: boolean;
  readonly holdsByCpu?: boolean;
}

/**
 * The run as two Markdown tables, the figures and the ratios, in the shape README publishes, so a
 * published table is pasted from a run rather than typed from one.
 */
export function markdownTables(measurements: readonly Measurement[], ratios: readonly Ratio[]): string {
  const count = (value: number | undefined): string =>
    value === undefined ? 'n/a' : Math.round(value).toLocaleString('en-US');
  const millis = (value: number): string => String(Math.round(value * 10) / 10);
  const figures = [
    '| Target | tokens/s | p50 ms | p99 ms | non-2xx | tokens/CPU-s | idle |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...measurements.map(
      (m) =>
        `| ${m.label} | ${count(m.tokensPerSecond)} | ${millis(m.p50Ms)} | ${millis(m.p99Ms)} | ${m.non2xx + m.errors} | ` +
        `${count(m.tokensPerCpuSecond)} | ${m.idleBefore === undefined ? '—' : `${Math.round(m.idleBefore * 100)}%`} |`,
    ),
  ];
  const ratio = (value: number | undefined): string => (value === undefined ? 'n/a' : value.toFixed(3));
  const verdict = (entry: Ratio): string =>
    entry.target === undefined
      ? ''
      : entry.value === undefined && entry.cpuValue === undefined
        ? 'not measured'
        : entry.holds && entry.holdsByCpu
          ? 'yes'
          : entry.holds || entry.holdsByCpu
            ? 'one way'
            : 'no';
  const range = (entry: Ratio): string =>
    entry.range === undefined ? 'n/a' : `${entry.range[0].toFixed(3)}–${entry.range[1].toFixed(3)}`;
  const ratioRows = [
    '| Ratio | by tokens/s | by tokens/CPU-s | rounds (tokens/s) | Target | Holds? |',
    '| --- | ---: | ---: | ---: | --- | --- |',
    ...ratios.map(
      (entry) =>
        `| ${entry.name} | ${ratio(entry.value)} | ${ratio(entry.cpuValue)} | ${range(entry)} | ${entry.target ?? ''} | ${verdict(entry)} |`,
    ),
  ];
  return `${figures.join('\n')}\n\n${ratioRows.join('\n')}\n`;
}

/**
 * How two sets of slices lie: `below` when every value of `a` is under every value of `b`,
 * `above` for the reverse, `overlapping` otherwise (or when either set is empty). A difference
 * whose slices overlap is not clear of the host's noise, whatever its medians say.
 */
export function separation(a: readonly number[], b: readonly number[]): 'below' | 'above' | 'overlapping' {
  if (a.length === 0 || b.length === 0) return 'overlapping';
  if (Math.max(...a) < Math.min(...b)) return 'below';
  if (Math.min(...a) > Math.max(...b)) return 'above';
  return 'overlapping';
}
