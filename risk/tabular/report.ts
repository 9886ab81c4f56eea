import type { ReliabilityBin } from '../metrics.js';
import type { CalibrationJson, CalibrationMethod } from '../model/calibration.js';
import type { ModelArtifact } from '../model/types.js';
import type { CrossValidationResult, FinalModel } from './cross-validate.js';
import type { EncoderJson } from './encode.js';
import type { TabularModelJson } from './models.js';
import { Scorecard } from './scorecard.js';
import type { ResolvedSpec } from './spec.js';

/** What `riskfuse train` writes: a JSON report, its Markdown rendering, and the model file with its encoder. */

export interface ByoDataInfo {
  readonly file: string;
  readonly sha256: string;
  readonly rows: number;
  readonly delimiter: string;
}

export interface ByoReport {
  readonly format: 'riskfuse-byo-report/1';
  readonly createdAt: string;
  readonly data: ByoDataInfo;
  readonly label: string;
  /** Label value treated as default (y = 1). */
  readonly positive: string;
  readonly negative: string;
  readonly positives: number;
  readonly features: ResolvedSpec['features'];
  readonly excluded: ResolvedSpec['excluded'];
  readonly encodedFeatures: number;
  readonly folds: number;
  readonly seed: number;
  readonly calibration: CalibrationMethod;
  readonly pdFloor: number;
  readonly models: readonly {
    readonly kind: string;
    readonly oofAuc: number;
    readonly meanFoldAuc: number;
    readonly sdFoldAuc: number;
    readonly oofKs: number;
    readonly oofBrier: number;
    readonly oofEce: number;
    readonly oofEceRaw: number;
    readonly meanPd: number;
    readonly reliability: readonly ReliabilityBin[];
    readonly folds: CrossValidationResult['models'][number]['folds'];
  }[];
  readonly aucLift?: {
    readonly kinds: readonly [string, string];
    readonly estimate: number;
    readonly lo: number;
    readonly hi: number;
    readonly level: number;
    readonly iterations: number;
  };
  readonly final: {
    readonly kind: string;
    readonly trainRows: number;
    readonly validationRows: number;
    readonly notes: Readonly<Record<string, number | string>>;
  };
  /** The final model's scorecard (points per bin), when it is or contains one. */
  readonly scorecard?: ReturnType<Scorecard['table']>;
  readonly durationMs: number;
}

/** The saved model (version 1): the encoder and a tfjs classifier artifact. Still read, no longer written. */
export interface ByoModelFileV1 {
  readonly format: 'riskfuse-byo-model/1';
  readonly createdAt: string;
  readonly data: ByoDataInfo;
  readonly label: string;
  readonly positive: string;
  readonly negative: string;
  readonly id?: string;
  readonly encoder: EncoderJson;
  readonly model: ModelArtifact;
}

/** The saved model: encoder, any tabular model kind, its recalibration and the PD floor. */
export interface ByoModelFile {
  readonly format: 'riskfuse-byo-model/2';
  readonly createdAt: string;
  readonly data: ByoDataInfo;
  readonly label: string;
  readonly positive: string;
  readonly negative: string;
  readonly id?: string;
  readonly encoder: EncoderJson;
  readonly model: TabularModelJson;
  readonly calibration: CalibrationJson;
  readonly pdFloor: number;
}

/** The scorecard inside a saved model (itself, or an ensemble member), for the report. */
export function scorecardOf(model: TabularModelJson): Scorecard | undefined {
  if (model.kind === 'scorecard') return Scorecard.fromJSON(model);
  if (model.kind === 'ensemble') {
    for (const m of model.members) {
      const s = scorecardOf(m.model);
      if (s !== undefined) return s;
    }
  }
  return undefined;
}

export function buildReport(
  cv: CrossValidationResult & { readonly final: FinalModel },
  spec: ResolvedSpec,
  data: ByoDataInfo,
  createdAt: string,
): ByoReport {
  return {
    format: 'riskfuse-byo-report/1',
    createdAt,
    data,
    label: spec.label,
    positive: spec.positive,
    negative: spec.negative,
    positives: cv.positives,
    features: spec.features,
    excluded: spec.excluded,
    encodedFeatures: cv.final.encoder.featureNames.length,
    folds: cv.folds,
    seed: cv.seed,
    calibration: cv.calibration,
    pdFloor: cv.pdFloor,
    models: cv.models.map((m) => ({
      kind: m.kind,
      oofAuc: m.oofAuc,
      meanFoldAuc: m.meanFoldAuc,
      sdFoldAuc: m.sdFoldAuc,
      oofKs: m.oofKs,
      oofBrier: m.oofBrier,
      oofEce: m.oofEce,
      oofEceRaw: m.oofEceRaw,
      meanPd: m.meanPd,
      reliability: m.reliability,
      folds: m.folds,
    })),
    ...(cv.aucLift === undefined
      ? {}
      : {
          aucLift: {
            kinds: cv.aucLift.kinds,
            estimate: cv.aucLift.estimate,
            lo: cv.aucLift.lo,
            hi: cv.aucLift.hi,
            level: cv.aucLift.level,
            iterations: cv.aucLift.iterations,
          },
        }),
    final: {
      kind: cv.final.kind,
      trainRows: cv.final.trainRows,
      validationRows: cv.final.validationRows,
      notes: cv.final.notes,
    },
    ...(() => {
      const s = scorecardOf(cv.final.model.toJSON());
      return s === undefined ? {} : { scorecard: s.table() };
    })(),
    durationMs: cv.durationMs,
  };
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const signed = (x: number) => (x >= 0 ? `+${f3(x)}` : f3(x));

const f4 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : 'n/a');
const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
const notesText = (n: Readonly<Record<string, number | string>>) =>
  Object.entries(n)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

function liftText(r: ByoReport): string | undefined {
  const l = r.aucLift;
  if (l === undefined) return undefined;
  return `AUC ${l.kinds[0]} − ${l.kinds[1]}: ${signed(l.estimate)} (${Math.round(l.level * 100)} % paired bootstrap CI ${signed(l.lo)} … ${signed(l.hi)}, ${l.iterations} resamples)`;
}

/** The cross-validation table, as fixed-width text for a terminal. */
export function summaryText(r: ByoReport): string {
  const lines = [
    `${r.data.file}: ${r.data.rows} rows, ${r.positives} default (${r.label} = ${r.positive}), ${r.features.length} columns → ${r.encodedFeatures} features; ${r.folds}-fold CV, seed ${r.seed}`,
    ...r.excluded.filter((c) => c.reason.startsWith('id-like')).map((c) => `left out ${c.name}: ${c.reason}`),
    '',
    `${'model'.padEnd(9)} ${'OOF AUC'.padStart(7)}  ${'fold AUC mean ± sd'.padEnd(18)}  ${'KS'.padStart(5)}  ${'Brier'.padStart(6)}  ${'ECE'.padStart(6)}  ${'ECE raw'.padStart(7)}`,
    ...r.models.map(
      (m) =>
        `${m.kind.padEnd(9)} ${f3(m.oofAuc).padStart(7)}  ${`${f3(m.meanFoldAuc)} ± ${f3(m.sdFoldAuc)}`.padEnd(18)}  ${f3(m.oofKs).padStart(5)}  ${f4(m.oofBrier).padStart(6)}  ${f4(m.oofEce).padStart(6)}  ${f4(m.oofEceRaw).padStart(7)}`,
    ),
    '',
    `PDs recalibrated (${r.calibration}) on each training fold's holdout, floored at ${pct(r.pdFloor)}; ECE raw = before recalibration.`,
  ];
  const lift = liftText(r);
  if (lift !== undefined) lines.push(lift);
  lines.push(
    `final model: ${r.final.kind}, fitted on ${r.final.trainRows} rows with ${r.final.validationRows} held out (${notesText(r.final.notes)})`,
  );
  return lines.join('\n');
}

export function reportMarkdown(r: ByoReport): string {
  const out = [
    `# Bring-your-own-data training: ${r.data.file}`,
    '',
    `- ${r.data.rows} rows (sha256 \`${r.data.sha256.slice(0, 16)}…\`), label \`${r.label}\`: \`${r.positive}\` = default (${r.positives} rows), \`${r.negative}\` = not`,
    `- ${r.features.length} feature columns → ${r.encodedFeatures} encoded features; ${r.folds}-fold stratified cross-validation, seed ${r.seed}; 15 % of each training fold held out for early stopping, hyper-parameter choice and recalibration (${r.calibration}); PD floor ${pct(r.pdFloor)}`,
    `- written ${r.createdAt}, took ${(r.durationMs / 1000).toFixed(1)} s`,
    '',
    '## Cross-validation (pooled out-of-fold)',
    '',
    '| model | AUC | fold AUC mean ± sd | KS | Brier | ECE | ECE before recalibration | mean PD |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.models.map(
      (m) =>
        `| ${m.kind} | ${f3(m.oofAuc)} | ${f3(m.meanFoldAuc)} ± ${f3(m.sdFoldAuc)} | ${f3(m.oofKs)} | ${f4(m.oofBrier)} | ${f4(m.oofEce)} | ${f4(m.oofEceRaw)} | ${pct(m.meanPd)} |`,
    ),
    '',
    `Observed default rate ${pct(r.positives / r.data.rows)}.`,
    '',
  ];
  const lift = liftText(r);
  if (lift !== undefined) out.push(`${lift}.`, '');
  out.push(
    '### Per fold',
    '',
    `| fold | rows | defaults | ${r.models.map((m) => `${m.kind} AUC`).join(' | ')} |`,
  );
  out.push(`| ---: | ---: | ---: | ${r.models.map(() => '---:').join(' | ')} |`);
  r.models[0]?.folds.forEach((f, i) => {
    const cells = r.models.map((m) => {
      const mf = m.folds[i];
      return mf ? `${f3(mf.auc)} (${notesText(mf.notes)})` : '';
    });
    out.push(`| ${f.fold} | ${f.testRows} | ${f.testPositives} | ${cells.join(' | ')} |`);
  });
  out.push('', '## Calibration (reliability, 10 equal-count bins of the out-of-fold PD)', '');
  for (const m of r.models) {
    out.push(
      `**${m.kind}** — ECE ${f4(m.oofEce)}`,
      '',
      '| PD bin | rows | mean PD | observed | ratio |',
      '| --- | ---: | ---: | ---: | ---: |',
    );
    for (const b of m.reliability)
      out.push(
        `| ${f4(b.lo)}–${f4(b.hi)} | ${b.count} | ${f4(b.meanPredicted)} | ${f4(b.observedRate)} | ${b.observedRate > 0 ? (b.meanPredicted / b.observedRate).toFixed(2) : '—'} |`,
      );
    out.push('');
  }
  out.push(
    '## Features',
    '',
    '| column | type | missing | source |',
    '| --- | --- | --- | --- |',
    ...r.features.map(
      (c) => `| ${c.name} | ${c.type} | ${c.missing} | ${c.inferred ? 'inferred' : 'spec'} |`,
    ),
    ...r.excluded.map((c) => `| ${c.name} | — | — | left out: ${c.reason} |`),
    '',
    '## Final model',
    '',
    `${r.final.kind}, fitted on ${r.final.trainRows} rows with ${r.final.validationRows} held out (${notesText(r.final.notes)}).`,
    '',
  );
  if (r.scorecard !== undefined) {
    out.push(
      '## Scorecard',
      '',
      'Points per bin (20 points double the odds of repayment; 600 points = odds 50:1). Numeric bins are on the encoded value (winsorised, and ln(1 + v) where the column is marked log).',
      '',
      '| column (IV) | bin | rows | bad rate | WoE | points |',
      '| --- | --- | ---: | ---: | ---: | ---: |',
    );
    for (const c of r.scorecard)
      for (const b of c.bins)
        out.push(
          `| ${c.column} (${c.iv.toFixed(3)}) | ${b.bin} | ${b.count} | ${Number.isFinite(b.badRate) ? pct(b.badRate) : '—'} | ${b.woe.toFixed(3)} | ${b.points.toFixed(1)} |`,
        );
    out.push('');
  }
  return out.join('\n');
}
