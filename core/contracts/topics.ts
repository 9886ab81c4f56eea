/**
 * The MQTT topic tree (ARCHITECTURE.md): `rf/v1/{deviceId}/telemetry` (device → platform),
 * `rf/v1/{deviceId}/status` (retained online/offline; the last will publishes offline) and
 * `rf/v1/{deviceId}/cmd` (platform → device).
 */
export const TOPIC_ROOT = 'rf/v1';
export const CHANNELS = ['telemetry', 'status', 'cmd'] as const;
export type Channel = (typeof CHANNELS)[number];

/** Device ids are topic-safe: no `/`, `+`, `#`, `$` or whitespace, 3–64 characters. */
export const DEVICE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.:-]{2,63}$';
const deviceIdRe = new RegExp(DEVICE_ID_PATTERN);

export function isDeviceId(id: string): boolean {
  return deviceIdRe.test(id);
}

export const telemetryTopic = (deviceId: string): string => `${TOPIC_ROOT}/${deviceId}/telemetry`;
export const statusTopic = (deviceId: string): string => `${TOPIC_ROOT}/${deviceId}/status`;
export const cmdTopic = (deviceId: string): string => `${TOPIC_ROOT}/${deviceId}/cmd`;

/** Subscriptions the platform's ingest uses. */
export const ALL_TELEMETRY = `${TOPIC_ROOT}/+/telemetry`;
export const ALL_STATUS = `${TOPIC_ROOT}/+/status`;

export function parseTopic(topic: string): { deviceId: string; channel: Channel } | undefined {
  const parts = topic.split('/');
  if (parts.length !== 4 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT) return undefined;
  const deviceId = parts[2] ?? '';
  const channel = parts[3] as Channel;
  if (!isDeviceId(deviceId) || !CHANNELS.includes(channel)) return undefined;
  return { deviceId, channel };
}

export const STATUS_ONLINE = 'online';
export const STATUS_OFFLINE = 'offline';
