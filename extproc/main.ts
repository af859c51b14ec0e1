// Process entry: signals and exit codes, nothing else. bin/tollgate.mjs calls main(); importing this module runs nothing.
import { ConfigError } from './config/load.ts';
import { runCommand, UsageError, USAGE } from './cli/commands.ts';

const write = (stream: NodeJS.WriteStream, text: string): Promise<void> =>
  new Promise((resolve) => { stream.write(text, () => { resolve(); }); });

export async function main(argv: readonly string[]): Promise<number> {
  let result;
  try {
    result = await runCommand(argv);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      await write(process.stderr, `tollgate: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof ConfigError) {
      await write(process.stderr, `tollgate: ${err.message}\n`);
      return 2;
    }
    await write(process.stderr, `tollgate: ${(err as Error).message}\n`);
    return 1;
  }
  if (result.kind === 'done') {
    await write(process.stdout, result.output);
    return result.exitCode ?? 0;
  }
  const { running } = result;
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      signals += 1;
      if (signals > 1) {
        resolve(130); // a second signal: stop waiting for a graceful shutdown
        return;
      }
      running.stop().then(() => { resolve(0); }, (err: unknown) => {
        void write(process.stderr, `tollgate: shutdown after ${signal} failed: ${(err as Error).message}\n`).then(() => { resolve(1); });
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    void running.ended?.then(async (code) => {
      await running.stop().catch(() => undefined);
      resolve(code);
    });
  });
}
