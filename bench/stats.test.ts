import { describe, expect, it } from 'vitest';
import {
  inMeasurementOrder,
  markdownTables,
  median,
  medianOf,
  rangeOfRounds,
  ratioOfRounds,
  separation,
  type Measurement,
} from './stats.js';

const round = (figures: Partial<Measurement>): Measurement => ({
  id: 'target',
  label: 'a target',
  tokensPerSecond: 1000,
  p50Ms: 5,
  p99Ms: 20,
  requests: 5000,
  non2xx: 0,
  errors: 0,
  seconds: 5,
  serverCpuSeconds: 4.5,
  tokensPerCpuSecond: 1100,
  idleBefore: 0.98,
  ...figures,
});

describe('inMeasurementOrder', () => {
  it('puts named ids in the given order and the rest after them in their own order', () => {
    const items = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id }));
    expect(inMeasurementOrder(items, ['d', 'b', 'x']).map((item) => item.id)).toEqual(['d', 'b', 'a', 'c', 'e']);
    expect(items.map((item) => item.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
});

describe('median', () => {
  it('takes the middle value of an odd count, whatever the order', () => {
    expect(median([9, 1, 5])).toBe(5);
  });

  it('takes the mean of the middle two of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('is undefined for no values and leaves its input unsorted', () => {
    expect(median([])).toBeUndefined();
    const values = [3, 1, 2];
    median(values);
    expect(values).toEqual([3, 1, 2]);
  });
});

describe('medianOf', () => {
  it('takes each figure from its own median round, so one spoiled round moves nothing', () => {
    const result = medianOf([
      round({ tokensPerSecond: 2000, p50Ms: 4, tokensPerCpuSecond: 2100 }),
      round({ tokensPerSecond: 900, p50Ms: 9, tokensPerCpuSecond: 1300 }),
      round({ tokensPerSecond: 2100, p50Ms: 3, tokensPerCpuSecond: 1900 }),
    ]);
    expect(result.tokensPerSecond).toBe(2000);
    expect(result.p50Ms).toBe(4);
    expect(result.tokensPerCpuSecond).toBe(1900);
  });

  it('sums failures and time over the rounds, so a median never hides an error', () => {
    const result = medianOf([round({ non2xx: 3, errors: 1 }), round({}), round({ non2xx: 2 })]);
    expect(result.non2xx).toBe(5);
    expect(result.errors).toBe(1);
    expect(result.requests).toBe(15_000);
    expect(result.seconds).toBe(15);
  });

  it('reports the lowest idle share seen and tolerates rounds without CPU figures', () => {
    const result = medianOf([
      round({ idleBefore: 0.97 }),
      round({ idleBefore: 0.91, tokensPerCpuSecond: undefined, serverCpuSeconds: undefined }),
    ]);
    expect(result.idleBefore).toBe(0.91);
    expect(result.tokensPerCpuSecond).toBe(1100);
  });

  it('refuses an empty list', () => {
    expect(() => medianOf([])).toThrow(RangeError);
  });
});

describe('ratioOfRounds', () => {
  it('divides within each round and takes the median, so a slow round on both sides cancels', () => {
    // Round 2 ran at half speed for both targets: its ratio is still 0.9.
    expect(ratioOfRounds([900, 450, 880], [1000, 500, 1000])).toBe(0.9);
  });

  it('is the median of the per-round ratios, not the ratio of the medians', () => {
    const top = [1000, 1000, 500];
    const bottom = [1000, 500, 500];
    expect(ratioOfRounds(top, bottom)).toBe(1);
    expect(median(top)! / median(bottom)!).toBe(2);
  });

  it('leaves out rounds missing a figure or with a zero bottom, and rounds to three decimals', () => {
    expect(ratioOfRounds([1, undefined, 2], [3, 4, 0])).toBe(0.333);
    expect(ratioOfRounds([undefined], [1])).toBeUndefined();
    expect(ratioOfRounds([], [])).toBeUndefined();
  });

  it('pairs rounds by index and ignores rounds only one side has', () => {
    expect(ratioOfRounds([2, 4, 100], [1, 2])).toBe(2);
  });
});

describe('rangeOfRounds', () => {
  it('gives the lowest and highest per-round ratio, rounded to three decimals', () => {
    // Per round: 0.9, 1.4, 0.8 (the median, 0.9, is what ratioOfRounds reports).
    expect(rangeOfRounds([900, 700, 400], [1000, 500, 500])).toEqual([0.8, 1.4]);
    expect(ratioOfRounds([900, 700, 400], [1000, 500, 500])).toBe(0.9);
    expect(rangeOfRounds([1, 2], [3, 3])).toEqual([0.333, 0.667]);
  });

  it('leaves out the rounds ratioOfRounds leaves out, and is undefined without any', () => {
    expect(rangeOfRounds([1, undefined, 5, 9], [2, 1, 0, 3])).toEqual([0.5, 3]);
    expect(rangeOfRounds([undefined], [1])).toBeUndefined();
    expect(rangeOfRounds([], [])).toBeUndefined();
  });
});

describe('markdownTables', () => {
  it('renders figures with thousands separators, failures summed, and the idle share', () => {
    const table = markdownTables(
      [round({ label: 'jose RS256', tokensPerSecond: 2608, non2xx: 2, errors: 1, idleBefore: 0.93 })],
      [],
    );
    expect(table).toContain('| jose RS256 | 2,608 | 5 | 20 | 3 | 1,100 | 93% |');
  });

  it('renders ratios with three decimals, the range of their rounds, and whether a target holds both ways, one way or not', () => {
    const table = markdownTables(
      [],
      [
        {
          name: 'a / b',
          value: 1.2654,
          cpuValue: 1.3,
          range: [0.98, 1.41],
          target: '≥ 1.2',
          holds: true,
          holdsByCpu: true,
        },
        { name: 'c / d', value: 0.8, cpuValue: 0.86, target: '≥ 0.85', holds: false, holdsByCpu: true },
        { name: 'e / f', value: 0.5, cpuValue: undefined, target: '≥ 0.95', holds: false, holdsByCpu: false },
        { name: 'g / h', value: 0.1, cpuValue: 0.2 },
        { name: 'i / j', value: undefined, cpuValue: undefined, target: '≥ 1.2', holds: false, holdsByCpu: false },
      ],
    );
    expect(table).toContain('| a / b | 1.265 | 1.300 | 0.980–1.410 | ≥ 1.2 | yes |');
    expect(table).toContain('| c / d | 0.800 | 0.860 | n/a | ≥ 0.85 | one way |');
    expect(table).toContain('| e / f | 0.500 | n/a | n/a | ≥ 0.95 | no |');
    expect(table).toContain('| g / h | 0.100 | 0.200 | n/a |  |  |');
    expect(table).toContain('| i / j | n/a | n/a | n/a | ≥ 1.2 | not measured |');
  });
});

describe('separation', () => {
  it('is below or above only when no slice of one side reaches the other', () => {
    expect(separation([29.6, 27.6, 30.1], [33.9, 32.2, 34.4])).toBe('below');
    expect(separation([33.9, 32.2, 34.4], [29.6, 27.6, 30.1])).toBe('above');
    expect(separation([29.6, 32.5], [32.2, 34.4])).toBe('overlapping');
  });

  it('counts a tie between the sides as overlapping', () => {
    expect(separation([1, 2], [2, 3])).toBe('overlapping');
    expect(separation([2, 3], [1, 2])).toBe('overlapping');
  });

  it('is overlapping when either side has no slices', () => {
    expect(separation([], [1])).toBe('overlapping');
    expect(separation([1], [])).toBe('overlapping');
  });
});
