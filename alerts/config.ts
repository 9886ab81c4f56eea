import { readFileSync } from 'node:fs';
import { defineConfig, int, str, type ConfigOf } from '../core/config.js';
import { errorMessage, RiskfuseError } from '../core/errors.js';
import { parseRulesDocument, type RulesDocument } from './rules.js';

export const alertsConfigSpec = defineConfig({
  alertRulesFile: str('ALERT_RULES_FILE', {
    doc: 'JSON file of alert rule settings (`{"rules": {"<rule id>": {enabled, severity, autoResolve, params, overrides}}}`); unset = built-in defaults',
  }),
  alertSilenceCheckIntervalMs: int('ALERT_SILENCE_CHECK_INTERVAL_MS', {
    doc: 'How often the rule engine looks for devices silent beyond their device-offline silence period (in memory; 0 = never)',
    unit: 'ms',
    default: 60_000,
    min: 0,
  }),
  alertStreamHeartbeatMs: int('ALERT_STREAM_HEARTBEAT_MS', {
    doc: 'Heartbeat comment interval of the live alert stream (GET /v1/alerts/stream)',
    unit: 'ms',
    default: 15_000,
    min: 100,
  }),
  alertStreamPollMs: int('ALERT_STREAM_POLL_MS', {
    doc: 'How often the live stream reads the event outbox for events written by other processes',
    unit: 'ms',
    default: 500,
    min: 10,
  }),
});
export type AlertsConfig = ConfigOf<typeof alertsConfigSpec>;

/** Reads and validates the rules file; CONFIG_INVALID names the file, the rule and the field. */
export function loadRulesFile(path: string | undefined): RulesDocument {
  if (path === undefined) return { rules: {} };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RiskfuseError('CONFIG_INVALID', `ALERT_RULES_FILE ${path}: cannot read (${errorMessage(err)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new RiskfuseError('CONFIG_INVALID', `ALERT_RULES_FILE ${path}: not JSON (${errorMessage(err)})`);
  }
  return parseRulesDocument(json, `ALERT_RULES_FILE ${path}`);
}
