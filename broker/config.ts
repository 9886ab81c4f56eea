import { RiskfuseError } from '../core/errors.js';
import { bool, defineConfig, int, parseConfig, str, type ConfigOf, type VarSpec } from '../core/config.js';

/** The broker's environment. Ports set to 0 listen on a free port (the actual one is reported). */
export const brokerConfigSpec = defineConfig({
  host: str('MQTT_HOST', { doc: 'Interface every MQTT listener binds to', default: '0.0.0.0' }),
  port: int('MQTT_PORT', {
    doc: 'MQTT over TCP; 0 picks a free port',
    unit: 'port',
    default: 1883,
    min: 0,
    max: 65_535,
  }),
  wsPort: int('MQTT_WS_PORT', {
    doc: 'MQTT over WebSocket (any path, subprotocol `mqtt`); unset = no WebSocket listener',
    unit: 'port',
    min: 0,
    max: 65_535,
  }),
  tlsPort: int('MQTT_TLS_PORT', {
    doc: 'MQTT over TLS; needs MQTT_TLS_CERT_FILE and MQTT_TLS_KEY_FILE; unset = no TLS listener',
    unit: 'port',
    min: 0,
    max: 65_535,
  }),
  tlsCertFile: str('MQTT_TLS_CERT_FILE', { doc: 'PEM certificate (chain) of the TLS listener' }),
  tlsKeyFile: str('MQTT_TLS_KEY_FILE', { doc: 'PEM private key of the TLS listener' }),
  maxPayloadBytes: int('MQTT_MAX_PAYLOAD_BYTES', {
    doc: 'Largest PUBLISH payload accepted; a client sending a larger packet is disconnected before it is buffered',
    unit: 'bytes',
    default: 262_144,
    min: 1,
    max: 268_000_000,
  }),
  serviceToken: str('MQTT_SERVICE_TOKEN', {
    doc: 'Shared token of platform services (username `svc:<name>`); unset = no service can log in',
    secret: true,
  }),
  devAnonymous: bool('MQTT_DEV_ANONYMOUS', {
    doc: 'Development only: admit clients without credentials, without topic limits',
    default: false,
  }),
  connectTimeoutMs: int('MQTT_CONNECT_TIMEOUT_MS', {
    doc: 'Time a new connection (after its TLS handshake) has to send CONNECT before it is closed',
    unit: 'ms',
    default: 10_000,
    min: 100,
    max: 300_000,
  }),
  maxConnections: int('MQTT_MAX_CONNECTIONS', {
    doc: 'Open network connections across all listeners; further ones are closed on accept. Unset = as many as the process’s open-file limit allows (`ulimit -n` less the files open at start-up and 64 spare; logged at start); a larger value is capped there too',
    unit: 'connections',
    min: 1,
  }),
});

export type BrokerConfig = ConfigOf<typeof brokerConfigSpec>;

/** Shorter than this and the service token is guessable; `issueToken()` gives 43 characters. */
export const MIN_SERVICE_TOKEN_LENGTH = 16;

/**
 * Parses the broker's variables, together with `extra` specs its process needs (state store, logging),
 * and the rules between them; every problem is reported in one CONFIG_INVALID error.
 */
export function parseBrokerConfig<const S extends Record<string, VarSpec> = Record<never, VarSpec>>(
  env: Record<string, string | undefined> = process.env,
  extra?: S,
): BrokerConfig & ConfigOf<S> {
  const problems: string[] = [];
  let config: (BrokerConfig & ConfigOf<S>) | undefined;
  try {
    config = parseConfig({ ...brokerConfigSpec, ...extra }, env) as BrokerConfig & ConfigOf<S>;
  } catch (err) {
    if (!(err instanceof RiskfuseError) || !Array.isArray(err.details)) throw err;
    problems.push(...(err.details as string[]));
  }
  const set = (name: string): boolean => (env[name] ?? '') !== '';
  if (set('MQTT_TLS_PORT') && !(set('MQTT_TLS_CERT_FILE') && set('MQTT_TLS_KEY_FILE'))) {
    problems.push('MQTT_TLS_PORT needs MQTT_TLS_CERT_FILE and MQTT_TLS_KEY_FILE');
  }
  if (!set('MQTT_TLS_PORT') && (set('MQTT_TLS_CERT_FILE') || set('MQTT_TLS_KEY_FILE'))) {
    problems.push(
      'MQTT_TLS_CERT_FILE/MQTT_TLS_KEY_FILE are set but MQTT_TLS_PORT is not (no TLS listener would start)',
    );
  }
  const token = env.MQTT_SERVICE_TOKEN ?? '';
  if (token !== '' && token.length < MIN_SERVICE_TOKEN_LENGTH) {
    problems.push(`MQTT_SERVICE_TOKEN must be at least ${MIN_SERVICE_TOKEN_LENGTH} characters`);
  }
  if (problems.length > 0 || config === undefined) {
    throw new RiskfuseError('CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`, {
      details: problems,
    });
  }
  return config;
}
