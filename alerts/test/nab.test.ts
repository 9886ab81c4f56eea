import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluateNab } from '../nab.js';

const NAB = new URL('../../../shared/data/nab', import.meta.url).pathname;

describe('streaming anomaly detector on NAB', () => {
  it.skipIf(!existsSync(NAB))(
    'when it runs over the NAB files with their label windows, then it finds most windows with few false alarms',
    () => {
      const r = evaluateNab(NAB);
      expect(r.files.length).toBeGreaterThanOrEqual(2);
      expect(r.recall).toBeGreaterThanOrEqual(0.75);
      expect(r.precision).toBeGreaterThanOrEqual(0.5);
      expect(r.nabScore).toBeGreaterThanOrEqual(65);
      // The taxi series' holidays and storms are all found despite its strong weekly season.
      expect(r.files.find((f) => f.file.includes('nyc_taxi'))?.windowsDetected).toBe(5);
    },
  );
});
