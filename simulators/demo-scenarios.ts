import { Rng } from './random.js';
import { parseScenario, type ScenarioKind, type ScenarioSpec } from './scenarios.js';

/** What `auto` injects: each fraud pattern once, a device outage and an off-site inspection. */
const AUTO_KINDS: readonly ScenarioKind[] = [
  'removal',
  'moved',
  'spoof',
  'tamper',
  'outage',
  'inspection-offsite',
];

/**
 * The demo world's scenarios (`DEMO_SCENARIOS`): `none`, a comma-separated list of specs
 * (`removal:b0003:2,tamper:b0010:4`), or `auto`: each kind of AUTO_KINDS on its own borrower (seeded by the
 * world's seed) at a seeded time inside the replayed days. The alert rules no longer fire on the demo's
 * ordinary noise (battery, bounces, weather), so without scenarios a new user's dashboard had nothing to show;
 * with them the alerts, cases and coverage figures it shows are about something that really happened.
 */
export function demoScenarios(
  text: string,
  world: { readonly seed: number; readonly borrowers: number; readonly replayDays: number },
): ScenarioSpec[] {
  const t = text.trim();
  if (t === 'none' || t === '') return [];
  if (t !== 'auto') return t.split(',').map((s) => parseScenario(s.trim()));
  const rng = new Rng(world.seed ^ 0xde70);
  const width = Math.max(4, String(world.borrowers).length);
  const pool = Array.from({ length: world.borrowers }, (_, i) => `b${String(i + 1).padStart(width, '0')}`);
  for (let i = pool.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [pool[i], pool[j]] = [pool[j] as string, pool[i] as string];
  }
  // Scenarios start after the first replayed day (baselines first) and a day before the replay ends.
  const last = Math.max(1.5, world.replayDays - 1);
  return AUTO_KINDS.slice(0, pool.length).map((kind, k) => ({
    kind,
    target: pool[k] as string,
    startDay: Math.round(rng.range(1, last) * 10) / 10,
  }));
}
