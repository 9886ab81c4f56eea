import { Type } from '@sinclair/typebox';
import type { DeviceKind } from '../../core/contracts/index.js';
import { newEventId } from '../../core/contracts/events.js';
import type { Device, Presence } from '../../core/state/index.js';
import type { RuleParams } from '../rules.js';
import { HOUR, Ms } from './params.js';
import type { RuleContext } from './rule.js';

/**
 * device-offline: the device went offline (its last will / retained status, from presence) or sent nothing for
 * its kind's silence period (the engine's in-memory clocks). A presence change also announces
 * device.offline / device.online. Tests: alerts/test/engine.test.ts ('offline', 'silent').
 */
export const params = Type.Object(
  {
    silenceStakeMs: Ms('a stake silent this long is offline (0 = only presence)', 2 * HOUR),
    silenceHelmetMs: Ms('a helmet silent this long is offline (0 = only presence)', 0),
    silenceSatelliteMs: Ms('a satellite feed silent this long is offline (0 = only presence)', 0),
  },
  { additionalProperties: false },
);
export const doc = {
  description: 'the device went offline (last will / retained status) or sent nothing for the silence period',
  severity: 'warning',
  subject: 'device',
} as const;

export function silenceOf(p: RuleParams<'device-offline'>, kind: DeviceKind): number {
  return kind === 'stake' ? p.silenceStakeMs : kind === 'helmet' ? p.silenceHelmetMs : p.silenceSatelliteMs;
}

/** A presence change of a device (already known to be a change). */
export function onPresence(ctx: RuleContext, p: Presence, device: Device | undefined): void {
  const rule = ctx.rules['device-offline'];
  const r = rule.for(device?.borrowerId);
  const subject = {
    ...(device === undefined ? {} : { borrowerId: device.borrowerId }),
    deviceId: p.deviceId,
  };
  ctx.plan.events([
    {
      id: newEventId(),
      type: p.status === 'offline' ? 'device.offline' : 'device.online',
      occurredAt: p.changedAt,
      data: { ...subject, kind: device?.kind ?? null, status: p.status, changedAt: p.changedAt },
    },
  ]);
  if (!r.enabled) return;
  if (p.status === 'offline') {
    ctx.plan.open({
      ruleId: 'device-offline',
      severity: r.severity,
      subjectKind: 'device',
      subjectId: p.deviceId,
      ...subject,
      title: `device ${p.deviceId} went offline`,
      evidence: { reason: 'presence', status: p.status, changedAt: p.changedAt },
      at: p.changedAt,
    });
  } else if (rule.autoResolve) {
    ctx.plan.clear('device-offline', 'device', p.deviceId, p.changedAt, {
      status: p.status,
      changedAt: p.changedAt,
    });
  }
}

/** Whether a device last heard at `lastSeenMs` is silent at `nowMs`; opens the alert if so. */
export function onSilence(ctx: RuleContext, device: Device, lastSeenMs: number, nowMs: number): boolean {
  const r = ctx.rules['device-offline'].for(device.borrowerId);
  const silenceMs = silenceOf(r.params, device.kind);
  if (!r.enabled || silenceMs <= 0 || nowMs - lastSeenMs < silenceMs) return false;
  ctx.plan.open({
    ruleId: 'device-offline',
    severity: r.severity,
    subjectKind: 'device',
    subjectId: device.id,
    borrowerId: device.borrowerId,
    deviceId: device.id,
    title: `device ${device.id} sent nothing for ${Math.round((nowMs - lastSeenMs) / 60_000)} min`,
    evidence: { reason: 'silence', lastReadingAt: lastSeenMs, silenceMs },
    at: nowMs,
  });
  return true;
}

/** A silent device spoke again: its silence alert clears (unless its presence still says offline). */
export function onSpokeAgain(ctx: RuleContext, deviceId: string, ts: number, presenceOffline: boolean): void {
  if (ctx.rules['device-offline'].autoResolve && !presenceOffline) {
    ctx.plan.clear('device-offline', 'device', deviceId, ts, { reason: 'reading', ts });
  }
}
