/** Devices' MQTT presence as the ingest last saw it. */
/** Last known MQTT presence of a device (retained status / last will). */
export interface Presence {
  readonly deviceId: string;
  readonly status: 'online' | 'offline';
  /** When ingest saw the change, epoch ms. */
  readonly changedAt: number;
}

/** Presence as the API reports it: a device without a presence row has never been seen on the broker. */
export type PresenceState = Presence['status'] | 'unknown';

export interface PresenceRepository {
  /** Records changes; a device's stored presence is never replaced by an older change (equal times replace). */
  setPresence(items: readonly Presence[]): Promise<void>;
  listPresence(): Promise<Presence[]>;
  getPresence(deviceIds: readonly string[]): Promise<Presence[]>;
}
