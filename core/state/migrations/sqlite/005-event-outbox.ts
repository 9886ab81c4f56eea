/**
 * the event outbox, written in the transaction of what it announces.
 * Shipped: never edit; add a new migration.
 */
export default `
CREATE TABLE event_outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
  occurred_at INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE INDEX event_outbox_time ON event_outbox(occurred_at, seq);
`;
