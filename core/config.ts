import { RiskfuseError } from './errors.js';

/**
 * Typed configuration from the environment. Each component declares its variables with `defineConfig`; the
 * spec is the single source for parsing, `--help` output and the README table. Parsing reports every
 * problem at once and returns a frozen object; secrets have no defaults.
 */
type Kind = 'string' | 'int' | 'number' | 'boolean' | 'enum' | 'url';

interface VarBase<K extends Kind, T> {
  readonly kind: K;
  readonly env: string;
  readonly doc: string;
  readonly unit?: string;
  readonly secret?: boolean;
  readonly default?: T;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
}

export type VarSpec =
  | VarBase<'string', string>
  | VarBase<'url', string>
  | VarBase<'int', number>
  | VarBase<'number', number>
  | VarBase<'boolean', boolean>
  | VarBase<'enum', string>;

type Opts<T> = { doc: string; unit?: string; default?: T; min?: number; max?: number; secret?: boolean };

export const str = <O extends Opts<string>>(env: string, o: O) => ({ kind: 'string' as const, env, ...o });
export const url = <O extends Opts<string>>(env: string, o: O) => ({ kind: 'url' as const, env, ...o });
export const int = <O extends Opts<number>>(env: string, o: O) => ({ kind: 'int' as const, env, ...o });
export const num = <O extends Opts<number>>(env: string, o: O) => ({ kind: 'number' as const, env, ...o });
export const bool = <O extends Opts<boolean>>(env: string, o: O) => ({ kind: 'boolean' as const, env, ...o });
export const oneOf = <const V extends readonly string[], O extends Opts<string>>(
  env: string,
  values: V,
  o: O & Opts<V[number]>,
) => ({
  kind: 'enum' as const,
  env,
  values,
  ...o,
});

type ValueOf<S> = S extends { kind: 'int' | 'number' }
  ? number
  : S extends { kind: 'boolean' }
    ? boolean
    : S extends { kind: 'enum'; values: readonly (infer V)[] }
      ? V
      : string;

/** Variables with a default are always present; without one they are optional (`undefined` when unset). */
export type ConfigOf<S extends Record<string, VarSpec>> = {
  readonly [K in keyof S as S[K] extends { default: unknown } ? K : never]: ValueOf<S[K]>;
} & {
  readonly [K in keyof S as S[K] extends { default: unknown } ? never : K]?: ValueOf<S[K]>;
};

export function defineConfig<const S extends Record<string, VarSpec>>(spec: S): S {
  return spec;
}

function parseOne(spec: VarSpec, raw: string): { value?: unknown; error?: string } {
  switch (spec.kind) {
    case 'string':
      return { value: raw };
    case 'url':
      try {
        new URL(raw);
        return { value: raw.replace(/\/+$/, '') };
      } catch {
        return { error: `must be a URL, got ${JSON.stringify(raw)}` };
      }
    case 'boolean': {
      const v = raw.toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return { value: true };
      if (['0', 'false', 'no', 'off'].includes(v)) return { value: false };
      return { error: `must be true or false, got ${JSON.stringify(raw)}` };
    }
    case 'enum':
      return spec.values?.includes(raw)
        ? { value: raw }
        : { error: `must be one of ${(spec.values ?? []).join(', ')}, got ${JSON.stringify(raw)}` };
    case 'int':
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n))
        return { error: `must be a number, got ${JSON.stringify(raw)}` };
      if (spec.kind === 'int' && !Number.isInteger(n)) return { error: `must be an integer, got ${raw}` };
      if (spec.min !== undefined && n < spec.min) return { error: `must be ≥ ${spec.min}, got ${raw}` };
      if (spec.max !== undefined && n > spec.max) return { error: `must be ≤ ${spec.max}, got ${raw}` };
      return { value: n };
    }
  }
}

/** Parses every variable of `spec`; throws one CONFIG_INVALID error listing all problems. */
export function parseConfig<const S extends Record<string, VarSpec>>(
  spec: S,
  env: Record<string, string | undefined> = process.env,
  required: readonly (keyof S)[] = [],
): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, s] of Object.entries(spec)) {
    const raw = env[s.env];
    if (raw === undefined || raw === '') {
      if (s.default !== undefined) out[key] = s.default;
      else if (required.includes(key)) problems.push(`${s.env} is required (${s.doc})`);
      continue;
    }
    const { value, error } = parseOne(s, raw);
    if (error !== undefined) problems.push(`${s.env} ${error}`);
    else out[key] = value;
  }
  if (problems.length > 0) {
    throw new RiskfuseError('CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`, {
      details: problems,
    });
  }
  return Object.freeze(out) as ConfigOf<S>;
}

/** A Markdown table of the variables, for `--help` and the README. */
export function describeConfig(spec: Record<string, VarSpec>): string {
  const rows = Object.values(spec).map((s) => {
    const def = s.secret
      ? '(secret, no default)'
      : s.default === undefined
        ? '(unset)'
        : `\`${String(s.default)}\``;
    const allowed = s.values ? ` One of: ${s.values.join(', ')}.` : '';
    return `| \`${s.env}\` | ${s.doc}${allowed} | ${s.unit ?? ''} | ${def} |`;
  });
  return ['| variable | meaning | unit | default |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
