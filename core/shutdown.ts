import type { Logger } from './logger.js';
import { errorMessage } from './errors.js';

/**
 * Ordered shutdown: closers run in reverse registration order (last started, first stopped), each awaited,
 * so producers stop before the stores they flush into. SIGTERM/SIGINT trigger it once; a second signal
 * exits at once.
 */
/** Signals repeated sooner than this after the first are the same Ctrl-C, forwarded; later ones force exit. */
export const FORCE_AFTER_MS = 2000;

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

  /**
   * Installs SIGINT/SIGTERM handlers that run the shutdown, then `onClosed`, then exit. A Ctrl-C reaches
   * this process twice within milliseconds when a wrapper (npm, tsx) forwards the one the terminal already
   * sent to the whole process group, so repeats within `FORCE_AFTER_MS` are ignored; a later one exits at
   * once without flushing.
   */
  onSignals(onClosed?: () => void): void {
    let firstAtMs: number | undefined;
    const handler = (signal: NodeJS.Signals): void => {
      const nowMs = Date.now();
      if (firstAtMs !== undefined) {
        if (nowMs - firstAtMs < FORCE_AFTER_MS) return;
        this.log.warn({ signal }, 'second signal: exiting without finishing the shutdown');
        process.exit(130);
      }
      firstAtMs = nowMs;
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
