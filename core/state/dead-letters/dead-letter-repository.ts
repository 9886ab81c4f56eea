/** Readings the ingest refused, kept with the reason (what it acknowledged them for). */
export interface DeadLetter {
  readonly id: number;
  readonly receivedAt: number;
  readonly deviceId?: string;
  readonly topic: string;
  /** Stable reason code, e.g. `MALFORMED_JSON`, `SCHEMA_VIOLATION`, `UNKNOWN_DEVICE`, `FUTURE_TIMESTAMP`. */
  readonly reason: string;
  readonly detail: string;
  /** The payload as received (truncated to 4 KiB, base64 when not UTF-8). */
  readonly payload: string;
}

export type NewDeadLetter = Omit<DeadLetter, 'id'>;

export interface DeadLetterRepository {
  addDeadLetters(items: readonly NewDeadLetter[]): Promise<void>;
  listDeadLetters(options?: { limit?: number; reason?: string; deviceId?: string }): Promise<DeadLetter[]>;
  countDeadLetters(reason?: string): Promise<number>;
}
