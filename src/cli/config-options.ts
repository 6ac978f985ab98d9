// Configuration flags shared by commands, and loading the configuration from flags, environment and file.

import { Option, type Command } from 'commander';
import { loadConfig, settings, type ServerConfig } from '../server/index.js';

/** Adds the flags of the named settings to `command`, described from the settings table. */
export function addSettingOptions(command: Command, keys: readonly string[]): Command {
  for (const key of keys) {
    const setting = settings.find((candidate) => candidate.key === key);
    if (!setting?.flag) throw new TypeError(`setting ${key} has no flag`);
    const description = setting.description.replace(/`/g, '');
    const valueName = setting.kind === 'boolean' ? '' : ` <${setting.kind === 'integer' ? 'n' : 'value'}>`;
    command.addOption(new Option(`--${setting.flag}${valueName}`, description));
  }
  return command;
}

/** The global flags every command accepts. */
export function addGlobalOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'YAML configuration file (also TESSERA_CONFIG)')
    .option('--database-url <url>', 'postgres://…, sqlite:<path> or memory: (also DATABASE_URL)')
    .option('--data-dir <dir>', 'folder of the default SQLite database (default ./data)')
    .option('--dev', 'development mode: generate a key-encryption key in the data folder when none is set');
}

/** Loads the configuration a command runs with: flags > environment > file > defaults. */
export function configFromOptions(options: Record<string, unknown>): ServerConfig {
  const flags: Record<string, unknown> = {};
  for (const setting of settings) {
    if (!setting.flag) continue;
    const value = options[camelCase(setting.flag)];
    if (value !== undefined) flags[setting.key] = value;
  }
  if (options.dev === true) flags.mode = 'development';
  return loadConfig({
    ...(typeof options.config === 'string' ? { file: options.config } : {}),
    env: process.env,
    flags,
  });
}

function camelCase(flag: string): string {
  return flag.replace(/-([a-z])/g, (_match, letter: string) => letter.toUpperCase());
}
