import { describe, expect, it } from 'vitest';
import { GridBuilder } from '../storage/fields-grid.js';
import { gridSeries, type FieldsGridQuery } from '../storage/telemetry-store.js';

const q: FieldsGridQuery = {
  kind: 'stake',
  fields: [
    { field: 'weightKg', stats: ['mean', 'count'] },
    { field: 'tamper', stats: ['max'] },
  ],
  fromMs: 0,
  toMs: 10 * 60_000,
  intervalMs: 60_000,
};

describe('GridBuilder', () => {
  it("when more devices than one shared buffer holds are merged, then each device's array holds its own values only", () => {
    // The arrays are views into buffers shared by many devices (fields-grid.ts, SLAB_DEVICES): a view that
    // overlapped its neighbour, or a buffer handed out twice, would show another device's values here.
    const g = new GridBuilder(q);
    const devices = Array.from({ length: 1_300 }, (_, i) => `stake-${i}`);
    devices.forEach((id, i) => {
      g.add(id, (i % 10) * 60_000, 0, 2, 2 * i, i, i);
      g.add(id, (i % 10) * 60_000 + 5, 1, 1, i % 2, i % 2, i % 2);
      g.add(id, ((i + 3) % 10) * 60_000, 0, 1, i, i, i);
    });
    const grid = g.finish();
    expect(grid.devices.size).toBe(devices.length);
    devices.forEach((id, i) => {
      const all = grid.devices.get(id);
      expect(all?.length).toBe(grid.columns.length * grid.buckets);
      const mean = gridSeries(grid, id, 'weightKg', 'mean');
      const count = gridSeries(grid, id, 'weightKg', 'count');
      const tamper = gridSeries(grid, id, 'tamper', 'max');
      for (let b = 0; b < grid.buckets; b++) {
        const mine = b === i % 10 || b === (i + 3) % 10;
        expect(mean?.[b], `${id} mean ${b}`).toBe(mine ? i : Number.NaN);
        expect(count?.[b], `${id} count ${b}`).toBe(b === i % 10 ? 2 : b === (i + 3) % 10 ? 1 : Number.NaN);
        expect(tamper?.[b], `${id} tamper ${b}`).toBe(b === i % 10 ? i % 2 : Number.NaN);
      }
    });
  });

  it('when a partial falls outside the span or has no count, then nothing is merged', () => {
    const g = new GridBuilder(q);
    g.add('stake-a', -60_000, 0, 1, 5, 5, 5);
    g.add('stake-a', q.toMs, 0, 1, 5, 5, 5);
    g.add('stake-b', 0, 0, 0, 5, 5, 5);
    expect(g.finish().devices.size).toBe(0);
  });
});
