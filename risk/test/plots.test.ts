import { describe, expect, it } from 'vitest';
import { reliabilityTable, rocCurve } from '../metrics.js';
import { reliabilitySvg, rocSvg } from '../plots.js';

const scores = [0.1, 0.4, 0.35, 0.8, 0.4, 0.05, 0.9];
const labels = [0, 0, 1, 1, 1, 0, 1];

function count(svg: string, tag: string): number {
  return svg.split(`<${tag}`).length - 1;
}

describe('SVG plots', () => {
  it('when two ROC curves are drawn, then each is a polyline from (0,0) to (1,1) with its AUC in the legend', () => {
    const roc = rocCurve(scores, labels);
    const svg = rocSvg([
      { name: 'mlp <IoT>', ...roc, auc: 0.875 },
      { name: 'logistic', fpr: [0, 1], tpr: [0, 1], auc: 0.5 },
    ]);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(count(svg, 'polyline')).toBe(2);
    // Plot area: x from 56 to 504, y from 392 (0) up to 36 (1) at the default 520 × 440.
    expect(svg).toContain('points="56.0,392.0 ');
    expect(svg).toContain(' 504.0,36.0"');
    expect(svg).toContain('class="reference" x1="56" y1="392" x2="504" y2="36"');
    expect(svg).toContain('mlp &#60;IoT&#62; (AUC 0.875)');
    expect(svg).toContain('logistic (AUC 0.500)');
    expect(svg).toContain('False positive rate');
    expect(count(svg, 'text')).toBeGreaterThanOrEqual(12 + 2 + 3);
  });

  it('when a reliability table is drawn, then each non-empty bin is a marker with its counts in a tooltip', () => {
    const table = reliabilityTable(scores, labels, 5);
    const svg = reliabilitySvg([{ name: 'mlp', table }], { maxProbability: 1, title: 'Calibration' });
    expect(count(svg, 'circle')).toBe(table.length);
    expect(svg).toContain('Calibration');
    expect(svg).toContain(`n=${table[0]?.count}`);
    expect(svg).toContain('Observed default rate');
  });
});
