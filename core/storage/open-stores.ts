import type { ConfigOf } from '../config.js';
import type { Logger } from '../logger.js';
import type { Shutdown } from '../shutdown.js';
import { openState } from '../state/open-state.js';
import type { stateConfigSpec } from '../state/state-config.js';
import type { State } from '../state/state.js';
import { openTelemetryStore } from './open-telemetry-store.js';
import type { telemetryConfigSpec } from './telemetry-config.js';
import type { TelemetryStore } from './telemetry-store.js';

/**
 * The two stores every long-running component opens, each registered with `shutdown` so they close after
 * whatever uses them (registered later, closed earlier).
 */
export async function openStores(
  config: ConfigOf<typeof stateConfigSpec> & ConfigOf<typeof telemetryConfigSpec>,
  log: Logger,
  shutdown: Shutdown,
  applicationName?: string,
): Promise<{ state: State; telemetry: TelemetryStore }> {
  const state = await openState(config, log, applicationName);
  shutdown.add('state store', () => state.close());
  const telemetry = await openTelemetryStore(config, log);
  shutdown.add('telemetry store', () => telemetry.close());
  return { state, telemetry };
}
