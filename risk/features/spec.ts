/**
 * The feature spec: every input the risk models see, where it comes from, over which window, in which unit,
 * what happens when it is missing, and the plain words used when it raises a borrower's risk (reason codes
 * for adverse-action notices). Features are computed at an observation time t from data strictly before t.
 *
 * Missing-value policy:
 * - `zero`: the absence is itself the value (no late payments seen → 0).
 * - `median+flag`: imputed with the training median, and the model also sees a 0/1 `…__missing` input, so
 *   "no stake data" is a signal of its own rather than a guess.
 */
/** Bump whenever a feature's definition or computation changes: cached feature rows of older versions are ignored. */
export const FEATURE_SPEC_VERSION = 2;

export type FeatureGroup = 'online' | 'offline';
export type MissingPolicy = 'zero' | 'median+flag';

export interface FeatureDef {
  readonly name: string;
  readonly group: FeatureGroup;
  readonly source: string;
  readonly window: string;
  readonly unit: string;
  readonly missing: MissingPolicy;
  readonly description: string;
  /** Reason text when this feature pushes the PD up. */
  readonly reasonUp: string;
  /** Reason text when this feature pushes the PD down (shown for context, not as an adverse reason). */
  readonly reasonDown: string;
}

const f = (
  name: string,
  group: FeatureGroup,
  source: string,
  window: string,
  unit: string,
  missing: MissingPolicy,
  description: string,
  reasonUp: string,
  reasonDown: string,
): FeatureDef => ({ name, group, source, window, unit, missing, description, reasonUp, reasonDown });

export const FEATURES: readonly FeatureDef[] = [
  // Online: the loan book as the lender saw it at t.
  f(
    'utilisation',
    'online',
    'loan book',
    'at t',
    'ratio 0–1',
    'zero',
    'unpaid scheduled instalments ÷ all scheduled instalments of the loans active at t',
    'Large share of the credit still outstanding',
    'Most of the credit already repaid',
  ),
  f(
    'dpd_now',
    'online',
    'loan book',
    'at t',
    'days',
    'zero',
    'days past due of the oldest instalment unpaid at t',
    'Instalment currently past due',
    'No instalment past due',
  ),
  f(
    'dpd_max_90d',
    'online',
    'loan book',
    '90 d',
    'days',
    'zero',
    'worst days past due of instalments due in the last 90 days',
    'Recent instalments paid late',
    'Recent instalments paid on time',
  ),
  f(
    'dpd_max_180d',
    'online',
    'loan book',
    '180 d',
    'days',
    'zero',
    'worst days past due of instalments due in the last 180 days',
    'Instalments paid late in the last six months',
    'No late instalments in the last six months',
  ),
  f(
    'late_payments_90d',
    'online',
    'loan book',
    '90 d',
    'count',
    'zero',
    'instalments due in the last 90 days paid more than 5 days late or still unpaid',
    'Several late payments in the last 90 days',
    'No late payments in the last 90 days',
  ),
  f(
    'late_payments_180d',
    'online',
    'loan book',
    '180 d',
    'count',
    'zero',
    'instalments due in the last 180 days paid more than 5 days late or still unpaid',
    'Several late payments in the last six months',
    'No late payments in the last six months',
  ),
  f(
    'repayment_ratio_180d',
    'online',
    'loan book',
    '180 d',
    'ratio 0–1',
    'zero',
    'amount paid by t ÷ amount due in the last 180 days (1 when nothing was due)',
    'Less repaid than was due',
    'Repaid everything that was due',
  ),
  f(
    'loan_age_days',
    'online',
    'loan book',
    'at t',
    'days',
    'zero',
    'days since the borrower’s first loan started',
    'Short credit history with the lender',
    'Long credit history with the lender',
  ),
  f(
    'log_exposure',
    'online',
    'loan book',
    'at t',
    'log10 currency units',
    'zero',
    'log10(1 + outstanding scheduled amount)',
    'Large outstanding exposure',
    'Small outstanding exposure',
  ),
  f(
    'payment_timing_trend_days',
    'online',
    'loan book',
    'last 6 paid instalments',
    'days',
    'zero',
    'mean lateness of the last 3 paid instalments minus that of the 3 before (payments drifting later)',
    'Payments arriving later than before',
    'Payments arriving earlier than before',
  ),
  // Offline: devices, through the telemetry store.
  f(
    'collateral_coverage',
    'offline',
    'stakes (weightKg) + lots',
    'last daily mean within 7 d',
    'ratio',
    'median+flag',
    'Σ last weight × unit price ÷ outstanding scheduled amount, capped at 5',
    'Pledged goods cover little of the outstanding credit',
    'Pledged goods cover the outstanding credit',
  ),
  f(
    'collateral_fill',
    'offline',
    'stakes (weightKg) + lots',
    'last daily mean within 7 d',
    'ratio',
    'median+flag',
    'Σ last weight ÷ Σ pledged weight',
    'Less pledged stock in the warehouse than pledged',
    'Pledged stock in place',
  ),
  f(
    'weight_change_7d',
    'offline',
    'stakes (weightKg)',
    '7 d',
    'ratio',
    'median+flag',
    'Σ last weight ÷ Σ weight 7 days earlier − 1',
    'Pledged stock fell in the last week',
    'Pledged stock steady or rising this week',
  ),
  f(
    'weight_change_30d',
    'offline',
    'stakes (weightKg)',
    '30 d',
    'ratio',
    'median+flag',
    'Σ last weight ÷ Σ weight 30 days earlier − 1',
    'Pledged stock fell over the last month',
    'Pledged stock steady or rising this month',
  ),
  f(
    'geofence_breach_share_30d',
    'offline',
    'stakes (lat, lon) + site geofence',
    '30 d',
    'ratio 0–1',
    'median+flag',
    'share of stake-days whose mean position lies outside the site geofence',
    'Pledged goods seen outside their warehouse',
    'Pledged goods stayed in their warehouse',
  ),
  f(
    'tamper_share_30d',
    'offline',
    'stakes (tamper)',
    '30 d',
    'ratio 0–1',
    'median+flag',
    'share of stake-days with the tamper switch open',
    'Collateral sensor tampered with',
    'No tampering with collateral sensors',
  ),
  f(
    'stake_offline_share_7d',
    'offline',
    'stakes (reading counts)',
    '7 d',
    'ratio 0–1',
    'zero',
    'share of stake-days without a single reading (0 when the borrower has no stakes)',
    'Collateral sensors silent',
    'Collateral sensors reporting',
  ),
  f(
    'worker_activity_ratio',
    'offline',
    'worker helmets (worn)',
    '14 d vs the 90 d before',
    'ratio',
    'median+flag',
    'helmet-worn readings per day in the last 14 days ÷ the site’s own daily average over the 90 days before',
    'Fewer worker-hours on site than usual',
    'Worker-hours on site at or above usual',
  ),
  f(
    'inspection_days_since',
    'offline',
    'inspector helmet',
    '≤ 120 d',
    'days',
    'zero',
    'days since the inspector’s helmet last reported on an inspection (120 when none in 120 days)',
    'No recent field inspection',
    'Recent field inspection',
  ),
  f(
    'inspection_offsite',
    'offline',
    'inspector helmet (lat, lon) + site geofence',
    'last inspection',
    '0/1',
    'median+flag',
    '1 when the last inspection’s mean helmet position lies outside the site geofence',
    'Last inspection not verified on site',
    'Last inspection verified on site',
  ),
  f(
    'ndvi_anomaly_30d',
    'offline',
    'satellite (ndvi, cloudPct)',
    '30 d',
    'NDVI units',
    'median+flag',
    'cloud-weighted mean NDVI of the borrower’s parcels minus that of all parcels in its region, same window',
    'Crops greener elsewhere in the region than on the borrower’s fields',
    'Crops as green as or greener than the region',
  ),
  f(
    'activity_anomaly_30d',
    'offline',
    'satellite (activityIndex, cloudPct)',
    '30 d',
    'ratio',
    'median+flag',
    'cloud-weighted mean activity index ÷ 100 − 1 (100 = the site’s normal level)',
    'Less activity at the borrower’s sites than normal',
    'Activity at the borrower’s sites normal or higher',
  ),
];

export const ONLINE_FEATURES = FEATURES.filter((d) => d.group === 'online').map((d) => d.name);
export const OFFLINE_FEATURES = FEATURES.filter((d) => d.group === 'offline').map((d) => d.name);
export const FEATURE_NAMES = FEATURES.map((d) => d.name);

export function featureDef(name: string): FeatureDef | undefined {
  const base = name.endsWith('__missing') ? name.slice(0, -'__missing'.length) : name;
  return FEATURES.find((d) => d.name === base);
}

/** Markdown table of the spec, for the README and `riskfuse features`. */
export function featureSpecMarkdown(): string {
  const rows = FEATURES.map(
    (d) =>
      `| \`${d.name}\` | ${d.group} | ${d.source} | ${d.window} | ${d.unit} | ${d.missing} | ${d.description} |`,
  );
  return [
    '| feature | group | source | window | unit | missing | definition |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}
