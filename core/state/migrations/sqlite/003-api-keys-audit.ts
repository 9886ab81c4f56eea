/**
 * API keys (salted hashes only) and the append-only audit log; indexes for the API's lists.
 * Shipped: never edit; add a new migration.
 */
export default `
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, salt TEXT NOT NULL, key_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL, revoked_at INTEGER, last_used_at INTEGER, rotated_from TEXT REFERENCES api_keys(id)
);
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor_key_id TEXT, actor_role TEXT,
  action TEXT NOT NULL, resource TEXT NOT NULL, resource_id TEXT, before_json TEXT, after_json TEXT,
  request_id TEXT
);
CREATE INDEX audit_resource ON audit_log(resource, resource_id, id);
CREATE INDEX audit_actor ON audit_log(actor_key_id, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE INDEX borrowers_name ON borrowers(name, id);
CREATE INDEX borrowers_created ON borrowers(created_at, id);
CREATE INDEX lots_site ON collateral_lots(site_id);
CREATE INDEX devices_site ON devices(site_id);
CREATE INDEX devices_lot ON devices(lot_id);
`;
