// `tessera migrate`: applies pending database migrations, one line per step.

import { Command } from 'commander';
import { openStorage } from '../server/build-provider.js';
import { configFromOptions } from './config-options.js';
import { printJson, printNote } from './output.js';

/** Builds the `migrate` command. */
export function migrateCommand(): Command {
  return new Command('migrate')
    .description('apply pending database migrations (serve also applies them on start)')
    .option('--json', 'print JSON')
    .action(async (options: Record<string, unknown>, command: Command) => {
      const config = configFromOptions(command.optsWithGlobals());
      const opened = await openStorage(config);
      try {
        const steps = await opened.migrate();
        if (options.json === true) {
          printJson({ database: opened.kind, location: opened.location, applied: steps });
          return;
        }
        for (const step of steps) process.stdout.write(`applied ${step}\n`);
        printNote(
          steps.length === 0
            ? `${opened.kind} database at ${opened.location} is up to date`
            : `${opened.kind} database at ${opened.location}: ${steps.length} migration(s) applied`,
        );
      } finally {
        await opened.storage.close();
      }
    });
}
