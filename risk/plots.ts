import type { ReliabilityBin } from './metrics.js';

/**
 * Standalone SVG charts for model reports (ROC, reliability). Pure string building, no dependencies: the
 * result can be written to a .svg file or inlined in HTML.
 */

export interface RocSeries {
  readonly name: string;
  readonly fpr: readonly number[];
  readonly tpr: readonly number[];
  readonly auc: number;
}

export interface ReliabilitySeries {
  readonly name: string;
  readonly table: readonly ReliabilityBin[];
}

export interface PlotOptions {
  readonly title?: string;
  /** Pixels; default 520 × 440. */
  readonly width?: number;
  readonly height?: number;
  /** Upper end of both axes for the reliability plot (low-PD books use e.g. 0.2); default 1. */
  readonly maxProbability?: number;
}

/** Colour-blind-safe palette (Okabe–Ito). */
const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];
const MARGIN = { left: 56, right: 16, top: 36, bottom: 48 };

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fmt(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 100) / 100) : 'n/a';
}

interface Frame {
  readonly parts: string[];
  readonly sx: (v: number) => number;
  readonly sy: (v: number) => number;
  readonly width: number;
  readonly height: number;
}

/** Square-domain axes [0, max] × [0, max] with ticks, grid, labels and the y = x reference line. */
function frame(opts: PlotOptions, defaultTitle: string, xLabel: string, yLabel: string, max: number): Frame {
  const width = opts.width ?? 520;
  const height = opts.height ?? 440;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const sx = (v: number): number => MARGIN.left + (v / max) * plotW;
  const sy = (v: number): number => MARGIN.top + plotH - (v / max) * plotH;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${esc(opts.title ?? defaultTitle)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5;
    const label = fmt(v);
    parts.push(
      `<line x1="${sx(v)}" y1="${sy(0)}" x2="${sx(v)}" y2="${sy(max)}" stroke="#e5e5e5"/>`,
      `<line x1="${sx(0)}" y1="${sy(v)}" x2="${sx(max)}" y2="${sy(v)}" stroke="#e5e5e5"/>`,
      `<line x1="${sx(v)}" y1="${sy(0)}" x2="${sx(v)}" y2="${sy(0) + 5}" stroke="#333"/>`,
      `<line x1="${sx(0) - 5}" y1="${sy(v)}" x2="${sx(0)}" y2="${sy(v)}" stroke="#333"/>`,
      `<text x="${sx(v)}" y="${sy(0) + 18}" text-anchor="middle">${label}</text>`,
      `<text x="${sx(0) - 8}" y="${sy(v) + 4}" text-anchor="end">${label}</text>`,
    );
  }
  parts.push(
    `<rect x="${sx(0)}" y="${sy(max)}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<line class="reference" x1="${sx(0)}" y1="${sy(0)}" x2="${sx(max)}" y2="${sy(max)}" stroke="#999" stroke-dasharray="4 4"/>`,
    `<text x="${sx(max / 2)}" y="${height - 10}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text transform="translate(16 ${sy(max / 2)}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
  );
  return { parts, sx, sy, width, height };
}

function legend(f: Frame, labels: readonly string[]): void {
  labels.forEach((label, i) => {
    const y = f.height - MARGIN.bottom - 12 - (labels.length - 1 - i) * 18;
    const x = f.width - MARGIN.right - 190;
    const colour = COLOURS[i % COLOURS.length] as string;
    f.parts.push(
      `<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${colour}" stroke-width="2.5"/>`,
      `<text x="${x + 28}" y="${y + 4}">${esc(label)}</text>`,
    );
  });
}

function polyline(points: string, colour: string): string {
  return `<polyline points="${points}" fill="none" stroke="${colour}" stroke-width="2"/>`;
}

/** ROC curves (false-positive rate vs true-positive rate), one line per model, AUC in the legend. */
export function rocSvg(curves: readonly RocSeries[], opts: PlotOptions = {}): string {
  const f = frame(opts, 'ROC curve', 'False positive rate', 'True positive rate', 1);
  curves.forEach((c, i) => {
    const n = Math.min(c.fpr.length, c.tpr.length);
    const pts: string[] = [];
    for (let k = 0; k < n; k++)
      pts.push(`${f.sx(c.fpr[k] as number).toFixed(1)},${f.sy(c.tpr[k] as number).toFixed(1)}`);
    f.parts.push(polyline(pts.join(' '), COLOURS[i % COLOURS.length] as string));
  });
  legend(
    f,
    curves.map((c) => `${c.name} (AUC ${Number.isFinite(c.auc) ? c.auc.toFixed(3) : 'n/a'})`),
  );
  f.parts.push('</svg>');
  return f.parts.join('\n');
}

/** Reliability diagram: mean predicted PD vs observed default rate per bin; marker area ∝ bin count. */
export function reliabilitySvg(series: readonly ReliabilitySeries[], opts: PlotOptions = {}): string {
  const max = opts.maxProbability ?? 1;
  const f = frame(opts, 'Reliability', 'Mean predicted PD', 'Observed default rate', max);
  const clip = (v: number): number => Math.min(max, Math.max(0, v));
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length] as string;
    const total = s.table.reduce((a, b) => a + b.count, 0) || 1;
    const pts = s.table.map(
      (b) => `${f.sx(clip(b.meanPredicted)).toFixed(1)},${f.sy(clip(b.observedRate)).toFixed(1)}`,
    );
    f.parts.push(polyline(pts.join(' '), colour));
    s.table.forEach((b) => {
      const r = 2.5 + 6 * Math.sqrt(b.count / total);
      f.parts.push(
        `<circle cx="${f.sx(clip(b.meanPredicted)).toFixed(1)}" cy="${f.sy(clip(b.observedRate)).toFixed(1)}" r="${r.toFixed(1)}" fill="${colour}" fill-opacity="0.6"><title>${esc(s.name)}: n=${b.count}, predicted ${b.meanPredicted.toFixed(4)}, observed ${b.observedRate.toFixed(4)}</title></circle>`,
      );
    });
  });
  legend(
    f,
    series.map((s) => s.name),
  );
  f.parts.push('</svg>');
  return f.parts.join('\n');
}
