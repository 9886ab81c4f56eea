import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateConnect, type AuthenticateOptions, type ConnectAttempt } from '../authenticate.js';
import {
  DEVICE_A,
  DEVICE_B,
  DEVICE_REVOKED,
  SERVICE_TOKEN,
  provisionRegistry,
  token,
  type Registry,
} from './support.js';

let registry: Registry;
let options: AuthenticateOptions;

beforeAll(async () => {
  registry = await provisionRegistry();
  options = { registry: registry.store.devices, serviceToken: SERVICE_TOKEN, devAnonymous: false };
});
afterAll(() => registry.close());

const attempt = (overrides: Partial<ConnectAttempt>): ConnectAttempt => ({
  clientId: DEVICE_A,
  clean: true,
  username: DEVICE_A,
  password: Buffer.from(token(registry, DEVICE_A)),
  willTopic: undefined,
  ...overrides,
});

describe('device admission', () => {
  it('when a device presents its own id and token, then it is admitted as that device', async () => {
    expect(await authenticateConnect(attempt({}), options)).toEqual({
      admitted: true,
      principal: { kind: 'device', deviceId: DEVICE_A },
    });
  });

  it('when the token is wrong, missing or another device’s, then the answer is 4', async () => {
    for (const password of [Buffer.from('nope'), undefined, Buffer.from(token(registry, DEVICE_B))]) {
      expect(await authenticateConnect(attempt({ password }), options)).toMatchObject({
        admitted: false,
        returnCode: 4,
      });
    }
  });

  it('when the device is unknown, then the answer is 4, the same as a wrong token', async () => {
    const result = await authenticateConnect(
      attempt({ clientId: 'ghost-01', username: 'ghost-01' }),
      options,
    );
    expect(result).toMatchObject({ admitted: false, returnCode: 4 });
  });

  it('when the device is revoked, then the answer is 5, even with its old token', async () => {
    const result = await authenticateConnect(
      attempt({
        clientId: DEVICE_REVOKED,
        username: DEVICE_REVOKED,
        password: Buffer.from(token(registry, DEVICE_REVOKED)),
      }),
      options,
    );
    expect(result).toMatchObject({ admitted: false, returnCode: 5 });
  });

  it('when the client id is not the device id, then the answer is 2 (identifier rejected) [MQTT-3.1.3-9]', async () => {
    expect(await authenticateConnect(attempt({ clientId: 'something-else' }), options)).toMatchObject({
      returnCode: 2,
    });
  });

  it('when the will is the device’s own status topic, then it is admitted; any other will topic gets 5', async () => {
    expect(
      (await authenticateConnect(attempt({ willTopic: `rf/v1/${DEVICE_A}/status` }), options)).admitted,
    ).toBe(true);
    expect(
      await authenticateConnect(attempt({ willTopic: `rf/v1/${DEVICE_B}/status` }), options),
    ).toMatchObject({
      returnCode: 5,
    });
  });

  it('when the registry fails, then the answer is 3 (server unavailable)', async () => {
    const broken: AuthenticateOptions = {
      ...options,
      registry: {
        getDevice: () => Promise.reject(new Error('database is locked')),
        getCredentials: () => Promise.resolve(undefined),
      },
    };
    expect(await authenticateConnect(attempt({}), broken)).toMatchObject({ admitted: false, returnCode: 3 });
  });
});

describe('service admission', () => {
  const service = (overrides: Partial<ConnectAttempt>): ConnectAttempt =>
    attempt({
      clientId: 'riskfuse-ingest',
      username: 'svc:ingest',
      password: Buffer.from(SERVICE_TOKEN),
      ...overrides,
    });

  it('when a service presents the service token, then it is admitted under its name', async () => {
    expect(await authenticateConnect(service({}), options)).toEqual({
      admitted: true,
      principal: { kind: 'service', name: 'ingest' },
    });
  });

  it('when the service token is wrong, then the answer is 4', async () => {
    expect(
      await authenticateConnect(service({ password: Buffer.from('x'.repeat(43)) }), options),
    ).toMatchObject({
      returnCode: 4,
    });
  });

  it('when no service token is configured, then no service can log in (5)', async () => {
    const result = await authenticateConnect(service({}), { ...options, serviceToken: undefined });
    expect(result).toMatchObject({ admitted: false, returnCode: 5 });
  });

  it('when a service uses a device id as client id, then it is refused with 2, so it cannot take the device over', async () => {
    expect(await authenticateConnect(service({ clientId: DEVICE_A }), options)).toMatchObject({
      returnCode: 2,
    });
  });
});

describe('anonymous and client-id rules', () => {
  it('when a client sends no username, then it is refused with 5 — unless development mode admits it', async () => {
    const anonymous = attempt({ username: undefined, password: undefined, clientId: 'mosq-1' });
    expect(await authenticateConnect(anonymous, options)).toMatchObject({ returnCode: 5 });
    expect(await authenticateConnect(anonymous, { ...options, devAnonymous: true })).toEqual({
      admitted: true,
      principal: { kind: 'anonymous' },
    });
  });

  it('when the client id is zero bytes with clean session 0, then the answer is 2 [MQTT-3.1.3-8]', async () => {
    const result = await authenticateConnect(attempt({ username: undefined, clientId: '', clean: false }), {
      ...options,
      devAnonymous: true,
    });
    expect(result).toMatchObject({ admitted: false, returnCode: 2 });
  });
});
