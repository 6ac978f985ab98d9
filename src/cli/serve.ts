// `tessera serve`: the production server.

import { Command } from 'commander';
import { createLogger, runServer } from '../server/index.js';
import { addSettingOptions, configFromOptions } from './config-options.js';

/** Builds the `serve` command. */
export function serveCommand(): Command {
  const serve = new Command('serve').description(
    'run the authorization server: OAuth endpoints on the public listener, the admin API on its own listener',
  );
  addSettingOptions(serve, [
    'issuer',
    'allowInsecureIssuer',
    'server.host',
    'server.port',
    'admin.host',
    'admin.port',
    'server.workers',
    'server.trustProxy',
    'server.forwardedHeader',
    'server.tlsCert',
    'server.tlsKey',
    'log.level',
  ]);
  serve.action(async (_options: Record<string, unknown>, command: Command) => {
    const config = configFromOptions(command.optsWithGlobals());
    const logger = createLogger({ level: config.log.level });
    await runServer(config, logger);
  });
  return serve;
}
