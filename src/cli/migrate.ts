// `tessera migrate`: applies pending database migrations, one line per step.

import { Command } from 'commander';
import { migrateDatabase } from '../server/index.js';
import type { MigrationStep } from '../storage/index.js';
import { configFromOptions } from './config-options.js';
import { printJson, printNote } from './output.js';

/** Builds the `migrate` command. */
export function migrateCommand(): Command {
  return new Command('migrate')
    .description('apply pending database migrations (serve also applies them on start)')
    .option('--json', 'print JSON')
    .action(async (options: Record<string, unknown>, command: Command) => {
      const config = configFromOptions(command.optsWithGlobals());
      const json = options.json === true;
      const onStep = (step: MigrationStep) => {
        if (!json) process.stdout.write(`applied migration ${step.version}: ${step.name}\n`);
      };
      const { kind, location, report } = await migrateDatabase(config, onStep);
      if (json) {
        printJson({
          database: kind,
          location,
          from_version: report.fromVersion,
          to_version: report.toVersion,
          applied: report.applied.map((step) => ({ version: step.version, name: step.name })),
        });
        return;
      }
      printNote(
        report.applied.length === 0
          ? `${kind} database at ${location} is up to date (schema version ${report.toVersion})`
          : `${kind} database at ${location}: schema version ${report.fromVersion} -> ${report.toVersion}`,
      );
    });
}
