import { afterAll, describe, expect, it } from 'vitest';
import { issueApiKey, parseApiKey, verifyApiKeySecret } from '../../credentials.js';
import { isConstraintError } from '../database.js';
import { closeAll, STATE_BACKENDS } from './backends.js';

afterAll(closeAll);

const T0 = Date.UTC(2026, 0, 1);

describe.each(STATE_BACKENDS)('API key repository on %s', (backend) => {
  it('when an API key is created, then only its salted hash is stored, it verifies, and revoking it disables it', async () => {
    const state = await backend.open();
    const issued = issueApiKey();
    await state.apiKeys.createApiKey(
      { id: issued.id, name: 'ops', role: 'officer', createdAt: T0 },
      { salt: issued.salt, keyHash: issued.keyHash },
    );
    const parsed = parseApiKey(issued.key);
    expect(parsed?.id).toBe(issued.id);
    const creds = await state.apiKeys.getApiKeyCredentials(issued.id);
    expect(creds && parsed && verifyApiKeySecret(parsed.secret, creds)).toBe(true);
    expect(creds && verifyApiKeySecret(`${parsed?.secret ?? ''}x`, creds)).toBe(false);
    expect(await state.apiKeys.getActiveApiKey(issued.id)).toEqual({
      key: { id: issued.id, name: 'ops', role: 'officer', createdAt: T0 },
      credentials: creds,
    });
    const dump = JSON.stringify(await state.db.all('SELECT * FROM api_keys'));
    expect(dump).not.toContain(parsed?.secret);
    expect(await state.apiKeys.countActiveApiKeys('officer')).toBe(1);
    expect(await state.apiKeys.revokeApiKey(issued.id, T0 + 1)).toBe(true);
    expect(await state.apiKeys.revokeApiKey(issued.id, T0 + 2)).toBe(false);
    expect(await state.apiKeys.getApiKeyCredentials(issued.id)).toBeUndefined();
    expect(await state.apiKeys.getActiveApiKey(issued.id)).toBeUndefined();
    expect((await state.apiKeys.getApiKey(issued.id))?.revokedAt).toBe(T0 + 1);
    expect(await state.apiKeys.countActiveApiKeys()).toBe(0);
  });

  it('when keys are listed, then they come in creation order without secrets, with use and rotation recorded', async () => {
    const state = await backend.open();
    const creds = { salt: 's', keyHash: 'h' };
    await state.apiKeys.createApiKey(
      { id: 'k2', name: 'second', role: 'auditor', createdAt: T0 + 10 },
      creds,
    );
    await state.apiKeys.createApiKey({ id: 'k1', name: 'first', role: 'admin', createdAt: T0 }, creds);
    await state.apiKeys.createApiKey(
      { id: 'k3', name: 'first, rotated', role: 'admin', createdAt: T0 + 10, rotatedFrom: 'k1' },
      creds,
    );
    await state.apiKeys.touchApiKey('k2', T0 + 99);
    await state.apiKeys.touchApiKey('nope', T0 + 99);
    expect(await state.apiKeys.listApiKeys()).toEqual([
      { id: 'k1', name: 'first', role: 'admin', createdAt: T0 },
      { id: 'k2', name: 'second', role: 'auditor', createdAt: T0 + 10, lastUsedAt: T0 + 99 },
      { id: 'k3', name: 'first, rotated', role: 'admin', createdAt: T0 + 10, rotatedFrom: 'k1' },
    ]);
    expect(await state.apiKeys.getApiKey('nope')).toBeUndefined();
    expect(await state.apiKeys.countActiveApiKeys('admin')).toBe(2);
    expect(await state.apiKeys.countActiveApiKeys('device-ops')).toBe(0);
    expect(await state.apiKeys.countActiveApiKeys()).toBe(3);
  });

  it('when a key id is taken or a rotation names an unknown key, then the database refuses it', async () => {
    const state = await backend.open();
    const creds = { salt: 's', keyHash: 'h' };
    await state.apiKeys.createApiKey({ id: 'k1', name: 'first', role: 'admin', createdAt: T0 }, creds);
    const taken = await state.apiKeys
      .createApiKey({ id: 'k1', name: 'again', role: 'admin', createdAt: T0 }, creds)
      .catch((err: unknown) => err);
    expect(isConstraintError(taken, 'unique')).toBe(true);
    const dangling = await state.apiKeys
      .createApiKey({ id: 'k2', name: 'x', role: 'admin', createdAt: T0, rotatedFrom: 'ghost' }, creds)
      .catch((err: unknown) => err);
    expect(isConstraintError(dangling, 'foreign-key')).toBe(true);
    expect((await state.apiKeys.listApiKeys()).map((k) => k.name)).toEqual(['first']);
  });
});
