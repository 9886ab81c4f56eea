import type { Reading } from '../core/contracts/reading.js';
import { payloadFields } from '../core/contracts/reading.js';
import { REGIONS } from './catalog.js';
import { weatherKey, type WeatherKey } from './climate.js';
import { HealthModel } from './health.js';
import { LoanBook } from './loan-book.js';
import { LotModel } from './lots.js';
import { scenarioEffects, type ScenarioEffects } from './scenario-effects.js';
import type { SignalModel, SimContext } from './signals/common.js';
import { HelmetModel } from './signals/helmet.js';
import { SatelliteModel } from './signals/satellite.js';
import { StakeModel } from './signals/stake.js';
import { DeviceStream, type GeneratedReading } from './stream.js';
import type { DeviceProfile, World } from './world.js';

/**
 * The running world: latent health, lot stock, scenario effects, the loan book and one signal model per
 * device, all pure and deterministic. The live runner and the backfill both read devices through
 * `stream()`, so they produce the same readings for the same seed and time.
 */
export class WorldEngine implements SimContext {
  readonly effects: ScenarioEffects;
  readonly health: HealthModel;
  readonly lots: LotModel;
  readonly loanBook: LoanBook;
  readonly weather: readonly WeatherKey[];
  private readonly models: (SignalModel | undefined)[];

  constructor(readonly world: World) {
    this.effects = scenarioEffects(world);
    this.weather = REGIONS.map((r, i) => weatherKey(world.seed, i, r));
    this.health = new HealthModel(world);
    this.lots = new LotModel(world, this.health, this.effects);
    this.loanBook = new LoanBook(world, this.health);
    this.models = new Array<SignalModel | undefined>(world.profiles.devices.length);
  }

  model(deviceIndex: number): SignalModel {
    let m = this.models[deviceIndex];
    if (m === undefined) {
      const p = this.world.profiles.devices[deviceIndex];
      if (p === undefined) throw new RangeError(`no device #${deviceIndex}`);
      m =
        p.role === 'stake'
          ? new StakeModel(this, p)
          : p.role === 'satellite'
            ? new SatelliteModel(this, p)
            : new HelmetModel(this, p);
      this.models[deviceIndex] = m;
    }
    return m;
  }

  /** A cursor over one device's readings from `fromMs` on. */
  stream(deviceIndex: number, fromMs: number = this.world.startMs): DeviceStream {
    const p = this.world.profiles.devices[deviceIndex];
    const tz = this.world.profiles.borrowers[p?.borrowerIndex ?? -1]?.tzOffsetH;
    if (tz === undefined) throw new RangeError(`no device #${deviceIndex}`);
    return new DeviceStream(this.model(deviceIndex), tz, this.world.startMs, fromMs);
  }

  /** All readings taken in [fromMs, toMs) by the devices that pass `filter`, device by device. */
  readings(
    fromMs: number,
    toMs: number,
    filter: (p: DeviceProfile) => boolean = () => true,
  ): GeneratedReading[] {
    const out: GeneratedReading[] = [];
    for (const p of this.world.profiles.devices) {
      if (!filter(p)) continue;
      this.stream(p.index, fromMs).drain(toMs, out);
    }
    return out;
  }

  /** The reading as the platform stores it: payload fields plus the identity the registry gives the device. */
  toReading(g: GeneratedReading): Reading {
    const d = this.world.devices[g.deviceIndex];
    if (d === undefined) throw new RangeError(`no device #${g.deviceIndex}`);
    return {
      kind: d.kind,
      deviceId: d.id,
      borrowerId: d.borrowerId,
      siteId: d.siteId,
      ts: g.payload.ts,
      seq: g.payload.seq,
      fields: payloadFields(g.payload),
    };
  }
}

export function createEngine(world: World): WorldEngine {
  return new WorldEngine(world);
}
