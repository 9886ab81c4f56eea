import { join } from 'node:path';
import { defineConfig, str } from '../config.js';

export const stateConfigSpec = defineConfig({
  dataDir: str('DATA_DIR', { doc: 'Folder for the embedded SQLite files', default: './data' }),
  stateDbPath: str('STATE_DB_PATH', {
    doc: 'SQLite state store (registry, portfolio, loan book, dead letters); default DATA_DIR/state.db',
  }),
});

export function statePath(cfg: { dataDir: string; stateDbPath?: string }): string {
  return cfg.stateDbPath ?? join(cfg.dataDir, 'state.db');
}
