import { COVERAGE_DROP_SHARE, type CreditEvaluation, type ElBand } from './evaluate-credit.js';

/** The bands' EL-vs-loss error against the range the model itself implies (risk/el-null.ts). */
function nullLines(c: CreditEvaluation): string[] {
  const n = c.elUnderModel;
  const signed = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(0)} %`;
  const observed = new Map([...c.elVsLoss.bands, c.elVsLoss.total].map((b) => [b.grade, b]));
  return [
    `If the PDs and LGDs were exactly right, how far would each band's EL be from its realised loss? ${n.draws} draws of defaults from the rows' own PDs, each default losing its predicted LGD times a realised-to-predicted ratio of one of ${n.lossRatios} past defaults (risk/el-null.ts). A band whose error falls outside its 95 % range misses beyond chance.`,
    '',
    '| grade | EL vs loss | 95 % range under the model | p | draws within ±' +
      `${(n.tolerance * 100).toFixed(0)} % | median defaulting borrowers |`,
    '| --- | --- | --- | --- | --- | --- |',
    ...n.bands.map((b) => {
      const e = observed.get(b.grade)?.error;
      return `| ${b.grade} | ${e === undefined ? '–' : signed(e)} | ${signed(b.low)} to ${signed(b.high)} | ${b.pValue === undefined ? '–' : b.pValue.toFixed(3)} | ${(b.shareWithin * 100).toFixed(1)} % | ${b.medianDefaults} |`;
    }),
    '',
    `The bands the aim judges (≥ ${c.elVsLoss.minDefaults} defaulting borrowers in the test: ${n.judged.join(', ') || 'none'}) all within ±${(n.tolerance * 100).toFixed(0)} % at once: ${(n.shareAllWithin * 100).toFixed(1)} % of draws.`,
  ];
}

/** The credit figures as Markdown (appended to the evaluation report). */
export function creditMarkdown(c: CreditEvaluation): string {
  const money = (x: number) => Math.round(x).toLocaleString('en');
  const pct = (x: number | undefined) => (x === undefined ? '–' : `${(x * 100).toFixed(1)} %`);
  const line = (b: ElBand) =>
    `| ${b.grade} | ${b.rows} | ${b.defaults} | ${money(b.el)} | ${money(b.loss)} | ${b.error === undefined ? '–' : `${b.error >= 0 ? '+' : ''}${pct(b.error)}`} | ${b.withinTolerance === undefined ? `(< ${c.elVsLoss.minDefaults} defaults)` : b.withinTolerance ? 'yes' : 'no'} | ${money(b.expectedDefaultedEad)} vs ${money(b.defaultedEad)} | ${pct(b.expectedDefaultedEad > 0 ? b.el / b.expectedDefaultedEad : undefined)} vs ${pct(b.defaultedEad > 0 ? b.loss / b.defaultedEad : undefined)} |`;
  const f = c.fraudLead;
  return [
    '## Expected loss against realised loss (out-of-time test rows)',
    '',
    `EL = fused PD × LGD at default × EAD at t, summed over the test rows of each grade band; loss = the borrower's realised loss when it defaults within the horizon of the row. A borrower counts in every band its weekly rows fall in. The last two columns split a gap into its PD part (exposure expected to default against exposure that did) and its LGD part. Within ±${pct(c.elVsLoss.tolerance)} is asked of bands with ≥ ${c.elVsLoss.minDefaults} defaults.`,
    '',
    '| grade | rows | defaulting borrowers | predicted EL | realised loss | EL vs loss | within tolerance | Σ PD × EAD vs defaulted EAD | LGD predicted vs realised |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...c.elVsLoss.bands.map(line),
    line(c.elVsLoss.total),
    '',
    ...nullLines(c),
    '',
    c.lgdFit === undefined
      ? 'LGD at default: no default to fit on; the configured parameters were used.'
      : `LGD at default (risk/credit/lgd-at-default.ts), fitted on ${c.lgdFit.rows} observations of ${c.lgdFit.defaults} defaults none of which the test scores (any borrower's before the split, the other borrowers' after it): a defaulter keeps ${pct(c.lgdFit.collateralAtDefault)} of the verified collateral it had at t, the unsecured part loses ${pct(c.lgdFit.unsecuredLgd)} (realised LGD on them ${pct(c.lgdFit.realisedLgd)}, fitted ${pct(c.lgdFit.fittedLgd)}).`,
    '',
    `Total EL on the same rows with the configured LGD parameters: ${money(c.configured.el)}; with the collateral as the stakes saw it at t (no run-down before default): ${money(c.collateralAsSeen.el)}; realised loss ${money(c.elVsLoss.total.loss)}.`,
    '',
    `Defaults in the test period: ${c.defaults.fraud.n} after a collateral fraud (loss ${pct(c.defaults.fraud.lossRate)} of EAD), ${c.defaults.clean.n} without (loss ${pct(c.defaults.clean.lossRate)} of EAD).`,
    '',
    `Fraud borrowers defaulting in the test period whose verified collateral dropped by ≥ ${pct(COVERAGE_DROP_SHARE)} before their default: ${f.droppedBefore} of ${f.fraudDefaulters} (${pct(f.share)}), median lead ${f.medianLeadDays} days.`,
    '',
  ].join('\n');
}
