// `tessera keys …`: list the signing keys and rotate them.

import { Command } from 'commander';
import { describeKey, openKeys, resolveKeyEncryptionKey, resolvePreviousKeyEncryptionKeys } from '../server/index.js';
import { configFromOptions } from './config-options.js';
import { CliError, exitCodes } from './exit-codes.js';
import { printJson, printNote, printTable } from './output.js';
import { withStorage } from './storage-session.js';

type Options = Record<string, unknown>;

function printKeys(keys: readonly Record<string, unknown>[]): void {
  if (keys.length === 0) {
    printNote('no signing keys yet: the first `tessera serve` or `tessera keys rotate` creates them');
    return;
  }
  printTable(
    ['kid', 'alg', 'state', 'created', 'activated', 'retired'],
    keys.map((key) => [
      String(key.kid),
      String(key.alg),
      String(key.state),
      String(key.created_at),
      String(key.activated_at ?? '-'),
      String(key.retired_at ?? '-'),
    ]),
  );
}

/** Builds the `keys` command group. */
export function keysCommand(): Command {
  const keys = new Command('keys').description('list and rotate the signing keys');

  keys
    .command('list')
    .description('list signing keys with their states (public facts only)')
    .option('--json', 'print JSON')
    .action(async (options: Options, command: Command) => {
      const config = configFromOptions(command.optsWithGlobals());
      const stored = await withStorage(config, (storage) => storage.listSigningKeys(), { readOnly: true });
      const described = stored.map(describeKey);
      if (options.json === true) printJson({ keys: described });
      else printKeys(described);
    });

  keys
    .command('rotate')
    .description(
      'promote the next key to active and retire the active one; without --immediate it waits until the next key has been published long enough',
    )
    .option('--immediate', 'rotate even if the next key was published only recently (e.g. a compromised key)')
    .option('--json', 'print JSON')
    .action(async (options: Options, command: Command) => {
      const config = configFromOptions(command.optsWithGlobals());
      const kek = resolveKeyEncryptionKey(config, printNote);
      const { result, stored } = await withStorage(config, async (storage) => {
        const serverKeys = await openKeys(config, storage, kek, undefined, resolvePreviousKeyEncryptionKeys(config));
        try {
          const rotation = await serverKeys.rotate({ immediate: options.immediate === true });
          return { result: rotation, stored: await storage.listSigningKeys() };
        } finally {
          serverKeys.close();
        }
      });
      const described = stored.map(describeKey);
      const outcome = {
        rotated: result.rotated,
        ...(result.reason ? { reason: result.reason } : {}),
        active_kid: result.activeKid,
        next_kid: result.nextKid,
        keys: described,
      };
      // Refused for now: scripts must not go on as if the key had changed.
      if (result.reason === 'not-pre-published') {
        if (options.json !== true) printKeys(described);
        throw new CliError(
          `not rotated: the next key ${result.nextKid} has not been published long enough (keys.jwksMaxAge + keys.refreshInterval); use --immediate to rotate anyway`,
          exitCodes.notYet,
          'not_rotated',
          outcome,
        );
      }
      if (options.json === true) {
        printJson(outcome);
        return;
      }
      printNote(
        result.rotated
          ? `rotated: ${result.activeKid} now signs; ${result.nextKid} is published as next`
          : `not rotated: another instance rotated first; ${result.activeKid} signs`,
      );
      printKeys(described);
    });

  return keys;
}
