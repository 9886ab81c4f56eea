/**
 * Device presence (the MQTT status topic and last will).
 * Shipped: never edit; add a new migration.
 */
export default `
CREATE TABLE device_presence (
  device_id TEXT PRIMARY KEY, status TEXT NOT NULL, changed_at INTEGER NOT NULL
);
`;
