import { defineConfig, int, num, url } from '../core/config.js';

/** Environment of `riskfuse simulate`; command-line flags override these. */
export const simulateConfigSpec = defineConfig({
  mqttUrl: url('MQTT_URL', {
    doc: 'Broker the simulated devices connect to (live mode)',
    default: 'mqtt://127.0.0.1:1883',
  }),
  seed: int('SIM_SEED', {
    doc: 'World seed: the same seed gives the same world and the same readings',
    default: 42,
  }),
  borrowers: int('SIM_BORROWERS', {
    doc: 'Borrowers in the simulated portfolio (about 9 devices each)',
    default: 50,
    min: 1,
    max: 100_000,
  }),
  // 3 h/s replays the default 7 days in under a minute, so a fresh `npm start` shows a working day (helmets
  // are on only during shifts) within 60 s whatever weekday it starts on.
  speed: num('SIM_SPEED', {
    doc: 'Live mode: simulated hours per real second until the clock catches up with now',
    unit: 'h/s',
    default: 3,
    min: 0.000_1,
  }),
  startDaysAgo: num('SIM_START_DAYS_AGO', {
    doc: 'Live mode: the world starts (and the simulated clock with it) this many days before now, at 00:00 UTC',
    unit: 'days',
    default: 7,
    min: 0,
  }),
  connectRatePerS: int('SIM_CONNECT_RATE', {
    doc: 'Live mode: new device connections per second during ramp-up',
    unit: '1/s',
    default: 200,
    min: 1,
  }),
  maxQueuedReadings: int('SIM_MAX_QUEUED_READINGS', {
    doc: 'Live mode: offline queue bound per device; older readings beyond it are dropped and counted',
    unit: 'readings',
    default: 2_000,
    min: 1,
  }),
});
