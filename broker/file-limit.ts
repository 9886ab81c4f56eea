import { readdirSync, readFileSync } from 'node:fs';

/**
 * The process's open-file limit as a connection ceiling. Every MQTT connection holds one file descriptor, and
 * when none is left libuv does not report the failed accept(2) to Node: it closes a descriptor it keeps in
 * reserve, accepts the pending connections and closes them at once (`uv__emfile_trick`, libuv
 * src/unix/stream.c), so devices see their connection reset and the broker logs nothing. The broker therefore
 * stops short of the limit itself and says so (log + `connectionsOverFileLimit`), and a listener error that
 * does get through (EMFILE/ENFILE) is logged instead of ending the process.
 * Pinned by broker/test/file-limit.test.ts (a broker under `prlimit --nofile`).
 */

/** Descriptors kept free for what the broker opens after start-up: Redis and database reconnects, log files. */
export const FILE_RESERVE = 64;

/** The soft RLIMIT_NOFILE of this process, from /proc/self/limits; undefined where that is not readable. */
export function openFileLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (m === null || m[1] === 'unlimited') return undefined;
  return Number(m[1]);
}

/** Descriptors this process has open now; undefined where /proc/self/fd is not readable. */
export function openFileCount(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

/**
 * How many more connections the open-file limit allows, counted from the descriptors open now (listeners,
 * state store, Redis) less the reserve; undefined when the limit is not known.
 */
export function fileLimitedConnections(
  limit: number | undefined = openFileLimit(),
  openNow: number | undefined = openFileCount(),
): number | undefined {
  if (limit === undefined || openNow === undefined) return undefined;
  return Math.max(0, limit - openNow - FILE_RESERVE);
}

/** Whether a listener error is the process (EMFILE) or the system (ENFILE) running out of descriptors. */
export function isFileLimitError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}
