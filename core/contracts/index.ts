export * from './topics.js';
export * from './payloads.js';
export * from './reading.js';
export * from './device-sessions.js';
export * from './events.js';
export * from './ingest-partitions.js';
