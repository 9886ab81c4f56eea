import type { ModelArtifact } from '../model/types.js';
import type { CrossValidationResult } from './cross-validate.js';
import type { EncoderJson } from './encode.js';
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
  readonly models: readonly {
    readonly kind: string;
    readonly oofAuc: number;
    readonly meanFoldAuc: number;
    readonly sdFoldAuc: number;
    readonly oofKs: number;
    readonly oofBrier: number;
    readonly folds: CrossValidationResult['models'][number]['folds'];
  }[];
  readonly aucLift?: {
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
    readonly bestEpoch: number;
    readonly epochs: number;
  };
  readonly durationMs: number;
}

/** The saved model: the encoder and the classifier artifact, so new rows of the same file layout can be scored. */
export interface ByoModelFile {
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

export function buildReport(
  cv: CrossValidationResult,
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
    models: cv.models.map((m) => ({
      kind: m.kind,
      oofAuc: m.oofAuc,
      meanFoldAuc: m.meanFoldAuc,
      sdFoldAuc: m.sdFoldAuc,
      oofKs: m.oofKs,
      oofBrier: m.oofBrier,
      folds: m.folds,
    })),
    ...(cv.aucLift === undefined
      ? {}
      : {
          aucLift: {
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
      bestEpoch: cv.final.bestEpoch,
      epochs: cv.final.epochs,
    },
    durationMs: cv.durationMs,
  };
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const signed = (x: number) => (x >= 0 ? `+${f3(x)}` : f3(x));

/** The cross-validation table, as fixed-width text for a terminal. */
export function summaryText(r: ByoReport): string {
  const lines = [
    `${r.data.file}: ${r.data.rows} rows, ${r.positives} default (${r.label} = ${r.positive}), ${r.features.length} columns → ${r.encodedFeatures} features; ${r.folds}-fold CV, seed ${r.seed}`,
    '',
    `${'model'.padEnd(9)} ${'OOF AUC'.padStart(7)}  ${'fold AUC mean ± sd'.padEnd(18)}  ${'KS'.padStart(5)}  ${'Brier'.padStart(5)}`,
    ...r.models.map(
      (m) =>
        `${m.kind.padEnd(9)} ${f3(m.oofAuc).padStart(7)}  ${`${f3(m.meanFoldAuc)} ± ${f3(m.sdFoldAuc)}`.padEnd(18)}  ${f3(m.oofKs).padStart(5)}  ${f3(m.oofBrier).padStart(5)}`,
    ),
  ];
  if (r.aucLift)
    lines.push(
      '',
      `AUC mlp − logistic: ${signed(r.aucLift.estimate)} (${Math.round(r.aucLift.level * 100)}% paired bootstrap CI ${signed(r.aucLift.lo)} … ${signed(r.aucLift.hi)})`,
    );
  lines.push(
    `final model: ${r.final.kind}, trained on ${r.final.trainRows} rows with ${r.final.validationRows} held out for early stopping (best epoch ${r.final.bestEpoch} of ${r.final.epochs})`,
  );
  return lines.join('\n');
}

export function reportMarkdown(r: ByoReport): string {
  const out = [
    `# Bring-your-own-data training: ${r.data.file}`,
    '',
    `- ${r.data.rows} rows (sha256 \`${r.data.sha256.slice(0, 16)}…\`), label \`${r.label}\`: \`${r.positive}\` = default (${r.positives} rows), \`${r.negative}\` = not`,
    `- ${r.features.length} feature columns → ${r.encodedFeatures} encoded features; ${r.folds}-fold stratified cross-validation, seed ${r.seed}; 15 % of each training fold held out for early stopping`,
    `- written ${r.createdAt}, took ${(r.durationMs / 1000).toFixed(1)} s`,
    '',
    '## Cross-validation',
    '',
    '| model | pooled OOF AUC | fold AUC mean ± sd | KS | Brier |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...r.models.map(
      (m) =>
        `| ${m.kind} | ${f3(m.oofAuc)} | ${f3(m.meanFoldAuc)} ± ${f3(m.sdFoldAuc)} | ${f3(m.oofKs)} | ${f3(m.oofBrier)} |`,
    ),
    '',
  ];
  if (r.aucLift)
    out.push(
      `AUC mlp − logistic on the pooled out-of-fold scores: **${signed(r.aucLift.estimate)}**, ${Math.round(r.aucLift.level * 100)} % paired bootstrap CI ${signed(r.aucLift.lo)} … ${signed(r.aucLift.hi)} (${r.aucLift.iterations} resamples).`,
      '',
    );
  out.push(
    '### Per fold',
    '',
    `| fold | rows | defaults | ${r.models.map((m) => `${m.kind} AUC (best epoch)`).join(' | ')} |`,
  );
  out.push(`| ---: | ---: | ---: | ${r.models.map(() => '---:').join(' | ')} |`);
  const first = r.models[0];
  first?.folds.forEach((f, i) => {
    const cells = r.models.map((m) => {
      const mf = m.folds[i];
      return mf ? `${f3(mf.auc)} (${mf.bestEpoch})` : '';
    });
    out.push(`| ${f.fold} | ${f.testRows} | ${f.testPositives} | ${cells.join(' | ')} |`);
  });
  out.push(
    '',
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
    `${r.final.kind}, trained on ${r.final.trainRows} rows with ${r.final.validationRows} held out for early stopping; best epoch ${r.final.bestEpoch} of ${r.final.epochs}.`,
    '',
  );
  return out.join('\n');
}
