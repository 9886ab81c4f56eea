import { issueToken, makeCredentials } from '../../core/credentials.js';
import type { State } from '../../core/state/index.js';

/**
 * The smallest portfolio a broker/ingest test needs: borrower `b1`, warehouse `s1` and one active stake
 * device per id, each with a fresh token. Returns deviceId → plaintext token.
 */
export async function provisionStakes(
  state: Pick<State, 'portfolio' | 'devices'>,
  ids: readonly string[],
  site: { readonly lat: number; readonly lon: number } = { lat: 1, lon: 2 },
): Promise<Map<string, string>> {
  const now = Date.now();
  await state.portfolio.upsertBorrowers([
    { id: 'b1', name: 'B', sector: 'trading', region: 'r', createdAt: now },
  ]);
  await state.portfolio.upsertSites([
    { id: 's1', borrowerId: 'b1', name: 'S', kind: 'warehouse', ...site, geofence: [] },
  ]);
  const tokens = new Map<string, string>();
  await state.devices.upsertDevices(
    ids.map((id) => {
      const token = issueToken();
      tokens.set(id, token);
      return {
        device: {
          id,
          kind: 'stake' as const,
          borrowerId: 'b1',
          siteId: 's1',
          status: 'active' as const,
          createdAt: now,
        },
        credentials: makeCredentials(id, token),
      };
    }),
  );
  return tokens;
}
