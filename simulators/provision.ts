import { issueToken, makeCredentials } from '../core/credentials.js';
import type { State } from '../core/state/index.js';
import type { World } from './world.js';

/**
 * Registers the world in the state store: borrowers, sites, lots, and every device with a fresh random token
 * (only its salted hash is stored). The plaintext tokens come back in memory, for the device clients; they
 * are never logged or written anywhere. Re-provisioning the same world rotates every token.
 */
export interface ProvisionedWorld {
  /** deviceId → plaintext token. */
  readonly tokens: ReadonlyMap<string, string>;
  readonly borrowers: number;
  readonly sites: number;
  readonly lots: number;
  readonly devices: number;
}

export async function provisionWorld(
  world: World,
  stateStore: Pick<State, 'portfolio' | 'devices'>,
): Promise<ProvisionedWorld> {
  await stateStore.portfolio.upsertBorrowers(world.borrowers);
  await stateStore.portfolio.upsertSites(world.sites);
  await stateStore.portfolio.upsertLots(world.lots);
  const tokens = new Map<string, string>();
  const items = world.devices.map((device) => {
    const token = issueToken();
    tokens.set(device.id, token);
    return { device, credentials: makeCredentials(device.id, token) };
  });
  await stateStore.devices.upsertDevices(items);
  return {
    tokens,
    borrowers: world.borrowers.length,
    sites: world.sites.length,
    lots: world.lots.length,
    devices: world.devices.length,
  };
}
