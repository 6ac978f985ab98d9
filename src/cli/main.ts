// The `tessera` command: parses the command line, runs one command and exits with a meaningful code.

import { Command, CommanderError } from 'commander';
import { ClientRegistrationError, ConfigError } from '../server/index.js';
import { SealedValueError } from '../keys/index.js';
import { StorageUnavailableError } from '../storage/index.js';
import { clientsCommand } from './clients.js';
import { addGlobalOptions } from './config-options.js';
import { CliError, exitCodes, type ExitCode } from './exit-codes.js';
import { keysCommand } from './keys.js';
import { migrateCommand } from './migrate.js';
import { printable, printJson, toleratesClosedOutput } from './output.js';
import { serveCommand } from './serve.js';
import { introspectCommand, revokeCommand, tokenCommand } from './token.js';

/** Builds the whole command tree. */
export function createProgram(): Command {
  const program = new Command('tessera')
    .description('Tessera OAuth 2.0 authorization server: run it, manage its clients and keys, request tokens')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  addGlobalOptions(program);
  for (const command of [
    serveCommand(),
    migrateCommand(),
    clientsCommand(),
    keysCommand(),
    tokenCommand(),
    introspectCommand(),
    revokeCommand(),
  ]) {
    program.addCommand(command);
  }
  // addCommand does not copy settings: exit handling must reach every nested command.
  const inherit = (command: Command) => {
    for (const child of command.commands) {
      child.exitOverride().showHelpAfterError('(add --help for usage)');
      child.configureOutput({ writeErr: (text) => process.stderr.write(text) });
      inherit(child);
    }
  };
  inherit(program);
  program.hook('preAction', (_program, action) => {
    ranCommands.set(program, action);
  });
  return program;
}

/** The command each program went on to run, once its arguments parsed. */
const ranCommands = new WeakMap<Command, Command>();

/**
 * Whether the output should be JSON. Once the arguments parsed, the command's own `--json` flag
 * says so (a value such as `--client-id --json` does not count); when they did not parse, any
 * `--json` before `--` does.
 */
function asksForJson(program: Command, argv: readonly string[]): boolean {
  const command = ranCommands.get(program);
  if (command) return command.opts().json === true;
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** The name of the command `program` ran, as `clients show`; undefined when none ran. */
export function ranCommandName(program: Command): string | undefined {
  const names: string[] = [];
  for (let command = ranCommands.get(program) ?? null; command && command !== program; command = command.parent) {
    names.unshift(command.name());
  }
  return names.length > 0 ? names.join(' ') : undefined;
}

/** Parser outcomes that show help rather than report a mistake. */
const helpCodes = new Set(['commander.help', 'commander.helpDisplayed', 'commander.version']);

/** Runs `tessera` with `argv` (as `process.argv`) and returns the exit code. */
export async function run(argv: readonly string[], program = createProgram()): Promise<ExitCode> {
  try {
    await program.parseAsync([...argv]);
    return exitCodes.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return exitCodes.ok;
      // The parser has already explained on stderr; scripts asking for JSON get the same as a document.
      if (asksForJson(program, argv) && !helpCodes.has(error.code)) {
        printJson({ error: 'usage', error_description: error.message.replace(/^error: /, '') });
      }
      return exitCodes.usage;
    }
    const { code, kind, message, details } = classify(error);
    if (asksForJson(program, argv)) printJson({ error: kind, error_description: message, ...details });
    process.stderr.write(`tessera: ${printable(message, { keepLineBreaks: true })}\n`);
    return code;
  }
}

function classify(error: unknown): {
  code: ExitCode;
  kind: string;
  message: string;
  details?: Record<string, unknown>;
} {
  if (error instanceof CliError) {
    return {
      code: error.exitCode,
      kind: error.kind,
      message: error.message,
      ...(error.details ? { details: error.details } : {}),
    };
  }
  if (error instanceof ConfigError)
    return { code: exitCodes.usage, kind: 'invalid_configuration', message: error.message };
  if (error instanceof ClientRegistrationError) {
    const code =
      error.kind === 'not_found'
        ? exitCodes.notFound
        : error.kind === 'conflict'
          ? exitCodes.conflict
          : exitCodes.usage;
    return { code, kind: error.kind, message: error.message };
  }
  if (error instanceof SealedValueError) {
    return {
      code: exitCodes.usage,
      kind: 'invalid_configuration',
      message: `stored keys cannot be opened: ${error.message}; give the key-encryption key they were sealed under (TESSERA_KEY_ENCRYPTION_KEY, or in development mode the data folder's key-encryption-key file; TESSERA_PREVIOUS_KEY_ENCRYPTION_KEYS while changing keys)`,
    };
  }
  if (error instanceof StorageUnavailableError) {
    return {
      code: exitCodes.failure,
      kind: 'storage_unavailable',
      message: `the database is unreachable: ${error.message}`,
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: exitCodes.failure, kind: 'failure', message };
}

toleratesClosedOutput(process.stdout);
toleratesClosedOutput(process.stderr);
const program = createProgram();
const code = await run(process.argv, program);
if (code !== exitCodes.ok || ranCommandName(program) !== 'serve') {
  // A command that succeeded but could not write its output has already set exit code 1.
  process.exitCode = code === exitCodes.ok ? (process.exitCode ?? code) : code;
  // Nothing should keep the process alive after a command; if something does, do not hang.
  setTimeout(() => process.exit(), 5000).unref();
}
