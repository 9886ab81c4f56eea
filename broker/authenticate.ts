import { secretEquals, verifyToken } from '../core/credentials.js';
import { errorMessage } from '../core/errors.js';
import type { DeviceRepository } from '../core/state/index.js';
import { checkWill, type Principal } from './authorize.js';

/**
 * Who may connect (ARCHITECTURE.md): devices with username = deviceId and their provisioning token,
 * platform services with username `svc:<name>` and the shared service token, and — in development mode
 * only — anonymous clients. A `svc:` username is always a service, so a device id starting with `svc:`
 * can never log in. Pure apart from the registry read; `aedes-hooks.ts` adapts it to Aedes.
 */
export const SERVICE_USERNAME_PREFIX = 'svc:';
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** The registry reads admission needs: the state's device repository (`state.devices`). */
export type DeviceRegistry = Pick<DeviceRepository, 'getDevice' | 'getCredentials'>;

/** What the CONNECT packet says, as far as admission is concerned. */
export interface ConnectAttempt {
  /** As sent; `''` for a zero-byte ClientId (Aedes then makes one up). */
  readonly clientId: string;
  readonly clean: boolean;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
  readonly willTopic: string | undefined;
}

export interface AuthenticateOptions {
  readonly registry: DeviceRegistry;
  /** Undefined: no service can log in. */
  readonly serviceToken: string | undefined;
  readonly devAnonymous: boolean;
}

/** CONNACK return codes of MQTT 3.1.1 table 3.1 that admission can answer with. */
export const CONNACK = {
  identifierRejected: 2,
  serverUnavailable: 3,
  badUsernameOrPassword: 4,
  notAuthorized: 5,
} as const;
export type RefusalCode = (typeof CONNACK)[keyof typeof CONNACK];

export type Admission =
  | { readonly admitted: true; readonly principal: Principal }
  | { readonly admitted: false; readonly returnCode: RefusalCode; readonly reason: string };

const refuse = (returnCode: RefusalCode, reason: string): Admission => ({
  admitted: false,
  returnCode,
  reason,
});

/** A hash to compare against when the device is unknown, so both paths cost one SHA-256. */
const NO_CREDENTIALS = { salt: 'no-such-device', tokenHash: '0'.repeat(64) };

/**
 * Decides one CONNECT. Never rejects: a registry that fails (a store outage) refuses the connection with 3
 * (server unavailable), so the device retries later instead of being told its credentials are wrong.
 */
export async function authenticateConnect(
  attempt: ConnectAttempt,
  options: AuthenticateOptions,
): Promise<Admission> {
  // Aedes 1.2 accepts this and invents an id (moscajs/aedes#1095, fixed after 1.2.0). [MQTT-3.1.3-8]
  if (attempt.clientId === '' && !attempt.clean) {
    return refuse(CONNACK.identifierRejected, 'zero-byte client id with clean session 0');
  }
  const { username } = attempt;
  let admission: Admission;
  if (username === undefined) {
    admission = options.devAnonymous
      ? { admitted: true, principal: { kind: 'anonymous' } }
      : refuse(CONNACK.notAuthorized, 'anonymous clients are not admitted');
  } else {
    try {
      admission = username.startsWith(SERVICE_USERNAME_PREFIX)
        ? await authenticateService(attempt, username.slice(SERVICE_USERNAME_PREFIX.length), options)
        : await authenticateDevice(attempt, username, options.registry);
    } catch (err) {
      return refuse(CONNACK.serverUnavailable, `device registry unavailable: ${errorMessage(err)}`);
    }
  }
  if (!admission.admitted || attempt.willTopic === undefined) return admission;
  const will = checkWill(admission.principal, attempt.willTopic);
  return will.allowed ? admission : refuse(CONNACK.notAuthorized, `will refused: ${will.reason}`);
}

async function authenticateDevice(
  attempt: ConnectAttempt,
  deviceId: string,
  registry: DeviceRegistry,
): Promise<Admission> {
  const device = await registry.getDevice(deviceId);
  if (device?.status === 'revoked') {
    // The registry keeps no verifiable hash for revoked devices (getCredentials returns only active ones),
    // so this answer cannot wait for the token: it tells a caller that the id exists and is revoked.
    return refuse(CONNACK.notAuthorized, 'device revoked');
  }
  const credentials = device === undefined ? undefined : await registry.getCredentials(deviceId);
  const token = attempt.password?.toString('utf8') ?? '';
  const valid =
    verifyToken(token, credentials ?? NO_CREDENTIALS) && credentials !== undefined && token !== '';
  // Unknown device and wrong token look alike on the wire, so ids cannot be probed.
  if (!valid) return refuse(CONNACK.badUsernameOrPassword, device ? 'wrong token' : 'unknown device');
  // The client id is bound to the device, so no device can take over another's session. [MQTT-3.1.3-9]
  if (attempt.clientId !== deviceId) {
    return refuse(CONNACK.identifierRejected, 'client id must equal the device id');
  }
  return { admitted: true, principal: { kind: 'device', deviceId } };
}

async function authenticateService(
  attempt: ConnectAttempt,
  name: string,
  options: AuthenticateOptions,
): Promise<Admission> {
  if (!SERVICE_NAME.test(name)) return refuse(CONNACK.badUsernameOrPassword, 'malformed service name');
  if (options.serviceToken === undefined) {
    return refuse(CONNACK.notAuthorized, 'service logins are disabled (MQTT_SERVICE_TOKEN is not set)');
  }
  const token = attempt.password?.toString('utf8') ?? '';
  if (!secretEquals(token, options.serviceToken)) {
    return refuse(CONNACK.badUsernameOrPassword, 'wrong service token');
  }
  // A service may pick its client id (ingest keeps its persistent session under one), but not a device's:
  // connecting under it would take over that device's session and cut the device off. [MQTT-3.1.4-2]
  if (attempt.clientId !== '' && (await options.registry.getDevice(attempt.clientId)) !== undefined) {
    return refuse(CONNACK.identifierRejected, 'a service cannot use a device id as its client id');
  }
  return { admitted: true, principal: { kind: 'service', name } };
}
