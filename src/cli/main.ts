import { Command, CommanderError } from 'commander';
import { registerServe } from './commands/serve';
import { registerPss } from './commands/pss';
import { registerRbac } from './commands/rbac';
import { registerRules } from './commands/rules';
import { registerReplay } from './commands/replay';
import { registerRoutes } from './commands/routes';
import { registerConfig } from './commands/config';
import { registerSilence } from './commands/silence';
import { registerPosture } from './commands/posture';
import { registerNetpol } from './commands/netpol';

/** A subcommand adds itself to the program; its action resolves to the process exit code. */
export type CommandRegistrar = (program: Command, exit: (code: number) => void) => void;

// One line per subcommand file in ./commands.
const COMMANDS: CommandRegistrar[] = [
  registerServe,
  registerPss,
  registerRbac,
  registerRules,
  registerReplay,
  registerRoutes,
  registerConfig,
  registerSilence,
  registerPosture,
  registerNetpol,
];

/** The `falconer` command. Resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command('falconer')
    .description('Runtime event alerting for Kubernetes, next to Falco')
    .exitOverride()
    .showHelpAfterError();
  for (const register of COMMANDS) register(program, (c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  return code;
}
