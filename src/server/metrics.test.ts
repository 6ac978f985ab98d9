import { AggregatorRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { SigningKeyStore, StoredSigningKey } from '../storage/index.js';
import { bcryptHasher, cachedSecretHasher } from '../secrets/index.js';
import { countSecretVerifications, createMetrics } from './metrics.js';

async function counted(metrics: ReturnType<typeof createMetrics>, result: string): Promise<number> {
  const values = (await metrics.secretVerifications.get()).values;
  return values.find((value) => value.labels.result === result)?.value ?? 0;
}

describe('countSecretVerifications', () => {
  it('counts matches, mismatches and decoys, and passes the client id on to the hasher', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const inner = bcryptHasher({ cost: 4 });
    const seen: (string | undefined)[] = [];
    const hasher = countSecretVerifications(
      {
        ...inner,
        verify: (secret: string, hash: string, clientId?: string) => {
          seen.push(clientId);
          return inner.verify(secret, hash);
        },
      },
      metrics,
    );
    const hash = await hasher.hash('right');
    expect(await hasher.verify('right', hash, 'a-client')).toBe(true);
    expect(await hasher.verify('wrong', hash, 'a-client')).toBe(false);
    await hasher.verifyDecoy('anything');
    expect(seen).toEqual(['a-client', 'a-client']);
    expect([
      await counted(metrics, 'match'),
      await counted(metrics, 'mismatch'),
      await counted(metrics, 'decoy'),
    ]).toEqual([1, 1, 1]);
  });

  it("leaves a wrapped cache's own members live: size follows the entries, forget and close reach the cache", async () => {
    const cache = cachedSecretHasher(bcryptHasher({ cost: 4 }));
    const hasher = countSecretVerifications(cache, createMetrics({ defaultMetrics: false }));
    const hash = await cache.hash('right');
    expect(hasher.size).toBe(0);
    expect(await hasher.verify('right', hash, 'a-client')).toBe(true);
    expect(hasher.size).toBe(1);
    expect(cache.size).toBe(1);
    hasher.forget('a-client');
    expect(cache.size).toBe(0);
    await hasher.verify('right', hash, 'a-client');
    hasher.close();
    expect(cache.size).toBe(0);
  });
});

describe('tessera_signing_key_age_seconds', () => {
  it('reports one age per key when several processes are aggregated, not their sum', async () => {
    const createdAt = Date.now() - 100_000;
    const key = { kid: 'k1', alg: 'RS256', state: 'active', createdAt } as unknown as StoredSigningKey;
    const store: SigningKeyStore = {
      listSigningKeys: async () => [key],
      createSigningKey: async () => {},
      updateSigningKey: async () => {},
      deleteSigningKey: async () => false,
    };
    const processes = [1, 2, 3].map(() => createMetrics({ defaultMetrics: false }));
    for (const metrics of processes) metrics.watchSigningKeys(store);
    const aggregated = AggregatorRegistry.aggregate(
      await Promise.all(processes.map((metrics) => metrics.registry.getMetricsAsJSON())),
    );
    const text = await aggregated.metrics();
    const age = Number(
      /^tessera_signing_key_age_seconds\{kid="k1",alg="RS256",state="active"\} ([\d.]+)$/m.exec(text)?.[1],
    );
    expect(age).toBeGreaterThanOrEqual(100);
    expect(age).toBeLessThan(200);
  });
});
