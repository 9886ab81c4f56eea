/**
 * Device presence (the MQTT status topic and last will).
 * The PostgreSQL twin of the SQLite migration of the same number (epoch ms in BIGINT, REAL as DOUBLE
 * PRECISION, flags stay 0/1 integers so both engines return the same rows; text compares byte-wise, COLLATE "C", so
 * ids and names sort and page as on SQLite whatever the database's locale).
 * Shipped: never edit; add a new migration.
 */
export default `
CREATE TABLE device_presence (
  device_id TEXT COLLATE "C" PRIMARY KEY, status TEXT COLLATE "C" NOT NULL, changed_at BIGINT NOT NULL
);
`;
