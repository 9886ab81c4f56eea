import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { defineConfig, oneOf } from '../../core/config.js';
import { errorMessage } from '../../core/errors.js';

/**
 * Chooses the TensorFlow.js backend once per process. Order for `auto`: the native binding
 * (`@tensorflow/tfjs-node`, an optional dependency whose install downloads libtensorflow), then WASM (SIMD,
 * always installed), then the pure-JS CPU backend only when WASM cannot start. Training and inference give
 * the same results to float32 rounding on every backend; only the speed differs.
 */
export const BACKEND_PREFERENCES = ['auto', 'node', 'wasm', 'cpu'] as const;
export type BackendPreference = (typeof BACKEND_PREFERENCES)[number];

export const riskBackendConfigSpec = defineConfig({
  tfBackend: oneOf('RISK_TF_BACKEND', BACKEND_PREFERENCES, {
    doc: 'TensorFlow.js backend for training and scoring: auto tries node (needs the optional @tensorflow/tfjs-node), then wasm, then cpu',
    default: 'auto',
  }),
});

/** Name tfjs-node registers its backend under. */
const NODE_BACKEND = 'tensorflow';
/** A variable, so TypeScript does not require the optional package's types at compile time. */
const TFJS_NODE_MODULE = '@tensorflow/tfjs-node';

const pending = new Map<BackendPreference, Promise<string>>();

/**
 * Sets up the backend for `prefer` (default `auto`) and returns its name ('tensorflow', 'wasm' or 'cpu').
 * Idempotent: repeated calls with the same preference share one initialisation. An explicit preference
 * that cannot start falls back along the same chain; `onNote` hears why (e.g. to log it).
 */
export function initBackend(
  prefer: BackendPreference = 'auto',
  onNote: (message: string) => void = () => undefined,
): Promise<string> {
  let p = pending.get(prefer);
  if (p === undefined) {
    p = choose(prefer, onNote);
    pending.set(prefer, p);
    // A failed attempt may be retried by a later call.
    void p.catch(() => pending.delete(prefer));
  }
  return p;
}

async function choose(prefer: BackendPreference, onNote: (message: string) => void): Promise<string> {
  if (prefer === 'auto' || prefer === 'node') {
    if (await tryNode(prefer === 'node', onNote)) return activate(NODE_BACKEND);
  }
  if (prefer !== 'cpu') {
    try {
      return await activate('wasm', registerWasm);
    } catch (err) {
      onNote(`WASM backend unavailable (${errorMessage(err)}); using the slower cpu backend`);
    }
  }
  return activate('cpu');
}

async function tryNode(explicit: boolean, onNote: (message: string) => void): Promise<boolean> {
  try {
    // Importing registers the 'tensorflow' backend with the shared tfjs-core.
    await import(TFJS_NODE_MODULE);
    return tf.findBackendFactory(NODE_BACKEND) != null;
  } catch (err) {
    const absent = (err as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND';
    // Absence is the normal case for `auto`; say nothing then. A broken native install is worth a note.
    if (explicit || !absent) onNote(`${TFJS_NODE_MODULE} not usable (${errorMessage(err)}); trying wasm`);
    return false;
  }
}

let wasmPathsSet = false;
function registerWasm(): void {
  if (wasmPathsSet) return;
  // Resolved from this file, so it works from tsx (risk/model) and from the compiled dist/risk/model alike.
  const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
  setWasmPaths(path.dirname(entry) + path.sep);
  wasmPathsSet = true;
}

async function activate(name: string, before?: () => void): Promise<string> {
  // engine().backendName, unlike tf.getBackend(), does not initialise the default backend as a side effect.
  if (tf.engine().backendName === name) return name;
  before?.();
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
  return tf.getBackend();
}

/**
 * The backend already in use, or `initBackend('auto')` when none is: library entry points call this so that
 * tfjs never picks a backend by itself (it would start WASM without the file paths set above).
 */
export async function ensureBackend(): Promise<string> {
  const current = tf.engine().backendName as string | null;
  return current ?? (await initBackend('auto'));
}
