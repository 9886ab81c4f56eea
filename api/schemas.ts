import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { DEVICE_ID_PATTERN, DEVICE_KINDS } from '../core/contracts/index.js';
import type * as core from '../core/state/index.js';
import { API_ROLES } from '../core/state/index.js';

/**
 * The API's TypeBox schemas. They describe the state's records (the repository ports under core/state/); the
 * `Same` checks at the bottom make the compiler refuse a schema that drifts from its core type.
 */
export const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$';
export const Id = (description: string) =>
  Type.String({ pattern: ID_PATTERN, minLength: 1, maxLength: 64, description });
export const DeviceId = Type.String({
  pattern: DEVICE_ID_PATTERN,
  description: 'device id (its MQTT username)',
});
export const EpochMs = (description: string) =>
  Type.Integer({ minimum: 0, maximum: 8_640_000_000_000, description: `${description}, epoch ms` });
const Text = (description: string, maxLength = 200) => Type.String({ minLength: 1, maxLength, description });
const Money = (description: string) => Type.Number({ minimum: 0, maximum: 1e15, description });
const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 currency code' });

export const IdParams = Type.Object({ id: Id('resource id') });
export const DeviceIdParams = Type.Object({ id: DeviceId });

export const SECTORS = ['agriculture', 'manufacturing', 'trading'] as const;
export const Sector = Type.Union(SECTORS.map((s) => Type.Literal(s)));

export const Borrower = Type.Object({
  id: Id('borrower id (the lender’s external id)'),
  name: Text('legal or trading name'),
  sector: Sector,
  region: Text('region', 100),
  createdAt: EpochMs('when the borrower was registered'),
});
export const NewBorrower = Type.Object(
  {
    id: Borrower.properties.id,
    name: Borrower.properties.name,
    sector: Sector,
    region: Borrower.properties.region,
  },
  { additionalProperties: false },
);
export const BorrowerPatch = Type.Partial(Type.Omit(NewBorrower, ['id']), {
  additionalProperties: false,
  minProperties: 1,
});

const Lat = Type.Number({ minimum: -90, maximum: 90, description: 'WGS84 latitude, degrees' });
const Lon = Type.Number({ minimum: -180, maximum: 180, description: 'WGS84 longitude, degrees' });
export const LatLon = Type.Tuple([Lat, Lon], { description: '[lat, lon]' });
export const SITE_KINDS = ['warehouse', 'parcel', 'factory', 'yard'] as const;

export const Site = Type.Object({
  id: Id('site id'),
  borrowerId: Id('borrower id'),
  name: Text('site name'),
  kind: Type.Union(SITE_KINDS.map((k) => Type.Literal(k))),
  lat: Lat,
  lon: Lon,
  geofence: Type.Array(LatLon, { maxItems: 1000, description: 'closed polygon of [lat, lon] vertices' }),
});
const Geofence = Type.Array(LatLon, {
  minItems: 3,
  maxItems: 1000,
  description: 'closed polygon of [lat, lon] vertices (3–1000; the first need not repeat)',
});
export const NewSite = Type.Object(
  { ...Site.properties, geofence: Geofence },
  { additionalProperties: false },
);
export const SitePatch = Type.Partial(
  Type.Object({
    name: Site.properties.name,
    kind: Site.properties.kind,
    lat: Lat,
    lon: Lon,
    geofence: Geofence,
  }),
  { additionalProperties: false, minProperties: 1 },
);

export const Lot = Type.Object({
  id: Id('collateral lot id'),
  borrowerId: Id('borrower id'),
  siteId: Id('site id where the goods are stored'),
  commodity: Text('pledged goods, e.g. wheat', 100),
  pledgedWeightKg: Type.Number({ minimum: 0, maximum: 1e10, description: 'pledged weight, kg' }),
  unitPricePerKg: Money('agreed unit price per kg'),
  currency: Currency,
  pledgedAt: EpochMs('when the goods were pledged'),
});
export const NewLot = Type.Object(Lot.properties, { additionalProperties: false });
export const LotPatch = Type.Partial(
  Type.Object({
    siteId: Lot.properties.siteId,
    commodity: Lot.properties.commodity,
    pledgedWeightKg: Lot.properties.pledgedWeightKg,
    unitPricePerKg: Lot.properties.unitPricePerKg,
    currency: Currency,
  }),
  { additionalProperties: false, minProperties: 1 },
);

export const HelmetRole = Type.Union([Type.Literal('worker'), Type.Literal('inspector')], {
  description: "a helmet's wearer (helmets only; default worker): inspection rules read the inspector's",
});
export const DeviceKind = Type.Union(DEVICE_KINDS.map((k) => Type.Literal(k)));
export const Device = Type.Object({
  id: DeviceId,
  kind: DeviceKind,
  borrowerId: Id('borrower id'),
  siteId: Id('site id'),
  lotId: Type.Optional(Id('collateral lot a stake sits on')),
  role: Type.Optional(HelmetRole),
  status: Type.Union([Type.Literal('active'), Type.Literal('revoked')]),
  createdAt: EpochMs('provisioned at'),
});
export const FieldValues = Type.Record(Type.String(), Type.Union([Type.Number(), Type.String()]));
export const DeviceView = Type.Object({
  ...Device.properties,
  presence: Type.Union([Type.Literal('online'), Type.Literal('offline'), Type.Literal('unknown')], {
    description: 'last MQTT presence (retained status / last will)',
  }),
  presenceChangedAt: Type.Optional(EpochMs('when presence last changed')),
  lastSeenAt: Type.Optional(EpochMs('device time of the latest stored reading')),
  batteryPct: Type.Optional(Type.Number({ description: 'battery of the latest reading, %' })),
  lastReading: Type.Optional(
    Type.Object({ ts: EpochMs('device time'), seq: Type.Integer(), fields: FieldValues }),
  ),
});
export const NewDevice = Type.Object(
  {
    id: DeviceId,
    kind: DeviceKind,
    borrowerId: Id('borrower id'),
    siteId: Id('site id'),
    lotId: Type.Optional(Id('collateral lot (stakes)')),
    role: Type.Optional(HelmetRole),
  },
  { additionalProperties: false },
);
export const DeviceToken = Type.Object({
  device: Device,
  token: Type.String({ description: 'MQTT password; shown once, stored only as a salted hash' }),
  mqtt: Type.Object({
    username: Type.String(),
    clientId: Type.String(),
    telemetryTopic: Type.String(),
    statusTopic: Type.String(),
  }),
});

const LOAN_STATUSES = ['active', 'repaid', 'defaulted'] as const;
export const LoanStatus = Type.Union(LOAN_STATUSES.map((s) => Type.Literal(s)));
export const Loan = Type.Object({
  id: Id('loan id (the lender’s external id)'),
  borrowerId: Id('borrower id'),
  principal: Money('principal'),
  currency: Currency,
  annualRatePct: Type.Number({ minimum: 0, maximum: 1000, description: 'annual interest rate, %' }),
  startAt: EpochMs('disbursement'),
  termDays: Type.Integer({ minimum: 1, maximum: 36_500, description: 'term, days' }),
  status: LoanStatus,
  defaultedAt: Type.Optional(EpochMs('default date')),
});
export const Repayment = Type.Object({
  id: Id('repayment (instalment) id'),
  loanId: Id('loan id'),
  dueAt: EpochMs('due date'),
  amountDue: Money('amount due'),
  paidAt: Type.Optional(EpochMs('payment date')),
  amountPaid: Money('amount paid'),
});

export const ApiRole = Type.Union(API_ROLES.map((r) => Type.Literal(r)));
export const ApiKey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: ApiRole,
  createdAt: EpochMs('created'),
  revokedAt: Type.Optional(EpochMs('revoked')),
  lastUsedAt: Type.Optional(EpochMs('last used (to the minute)')),
  rotatedFrom: Type.Optional(Type.String({ description: 'the key this one replaced' })),
});
export const IssuedKey = Type.Object({
  apiKey: ApiKey,
  key: Type.String({ description: 'the key itself: shown once, stored only as a salted hash' }),
});

export const AuditEntry = Type.Object({
  id: Type.Integer(),
  at: EpochMs('when'),
  actorKeyId: Type.Optional(Type.String()),
  actorRole: Type.Optional(Type.String()),
  action: Type.String(),
  resource: Type.String(),
  resourceId: Type.Optional(Type.String()),
  before: Type.Optional(Type.Unknown()),
  after: Type.Optional(Type.Unknown()),
  requestId: Type.Optional(Type.String()),
});

export const Limit = Type.Integer({ minimum: 1, maximum: 500, default: 50, description: 'page size' });
export const Cursor = Type.String({
  minLength: 1,
  maxLength: 512,
  pattern: '^[A-Za-z0-9_-]+$',
  description: 'opaque: the `nextCursor` of the previous page',
});

export const Page = <T extends TSchema>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Optional(Type.String({ description: 'absent on the last page' })),
  });

// The schemas and the core types must describe the same records.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const same = <T extends true>(_: T): void => undefined;
same<Same<Static<typeof Borrower>, core.Borrower>>(true);
same<Same<Static<typeof Lot>, core.CollateralLot>>(true);
same<Same<Static<typeof Device>, core.Device>>(true);
same<Same<Static<typeof Loan>, core.Loan>>(true);
same<Same<Static<typeof Repayment>, core.Repayment>>(true);
same<Same<Static<typeof ApiKey>, core.ApiKey>>(true);
same<Same<Static<typeof AuditEntry>, core.AuditEntry>>(true);
same<Same<Omit<Static<typeof Site>, 'geofence'>, Omit<core.Site, 'geofence'>>>(true);
