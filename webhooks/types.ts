export * from '../core/state/webhooks/webhook-types.js';
