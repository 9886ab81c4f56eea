import { activityDecline } from './activity-decline.js';
import { anomaly } from './anomaly.js';
import { batteryLow } from './battery-low.js';
import { geofence } from './geofence.js';
import { gpsFrozen } from './gps-frozen.js';
import { inspectionOffsite } from './inspection-offsite.js';
import { ndviDrought } from './ndvi-drought.js';
import type { ReadingRule } from './rule.js';
import { satelliteAnomaly } from './satellite-anomaly.js';
import { tamper } from './tamper.js';
import { weightDrop } from './weight-drop.js';

/** The built-in rules over readings, in the order a reading is run through them. */
export const READING_RULES: readonly ReadingRule[] = [
  batteryLow,
  tamper,
  geofence,
  gpsFrozen,
  weightDrop,
  inspectionOffsite,
  satelliteAnomaly,
  ndviDrought,
  activityDecline,
  anomaly,
];
