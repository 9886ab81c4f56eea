/**
 * What the platform can ask of the MQTT broker about device connections, as a port so that the API need not
 * import the broker. In one process (`riskfuse start`) the broker implements it directly; an API running as
 * its own process uses a fallback that can only check that the broker accepts TCP connections — a revoked
 * device is then cut off at its next CONNECT, which the broker refuses for a revoked device.
 */
export interface DeviceSessions {
  /** Closes the device's MQTT connection if it has one; resolves whether one was closed. */
  disconnect(deviceId: string): Promise<boolean>;
  /** Whether the broker is up and accepting connections. */
  isUp(): Promise<boolean>;
  /** Whether `disconnect` acts at once (in-process broker) or only at the device's next CONNECT. */
  readonly disconnectsImmediately: boolean;
}
