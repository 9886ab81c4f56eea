import type { Logger } from './logger.js';
import { errorMessage } from './errors.js';

/**
 * Ordered shutdown: closers run in reverse registration order (last started, first stopped), each awaited,
 * so producers stop before the stores they flush into. SIGTERM/SIGINT trigger it once; a second signal
 * exits at once.
 */
export class Shutdown {
  private readonly closers: { name: string; close: () => Promise<void> | void }[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly log: Logger) {}

  add(name: string, close: () => Promise<void> | void): void {
    this.closers.push({ name, close });
  }

  run(reason: string): Promise<void> {
    this.running ??= (async () => {
      this.log.info({ reason }, 'shutting down');
      for (const { name, close } of [...this.closers].reverse()) {
        try {
          await close();
          this.log.info({ component: name }, 'closed');
        } catch (err) {
          this.log.error({ component: name, err: errorMessage(err) }, 'close failed');
        }
      }
    })();
    return this.running;
  }

  /** Installs SIGINT/SIGTERM handlers that run the shutdown, then `onClosed`, then exit. */
  onSignals(onClosed?: () => void): void {
    let signals = 0;
    const handler = (signal: NodeJS.Signals): void => {
      signals += 1;
      if (signals > 1) process.exit(130);
      this.run(signal).then(
        () => {
          onClosed?.();
          process.exit(0);
        },
        (err: unknown) => {
          this.log.error({ err: errorMessage(err) }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  }
}
