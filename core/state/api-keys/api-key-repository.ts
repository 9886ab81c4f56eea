/** API keys: listed without secrets, verified by salted hash. */
/** API roles (README "API"): what each may do is the API's permission table, not the store's concern. */
export const API_ROLES = ['admin', 'officer', 'auditor', 'device-ops', 'approver'] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** An API key as listed: never its secret, which is stored only as a salted hash. */
export interface ApiKey {
  readonly id: string;
  readonly name: string;
  readonly role: ApiRole;
  readonly createdAt: number;
  readonly revokedAt?: number;
  readonly lastUsedAt?: number;
  /** The key this one replaced by rotation. */
  readonly rotatedFrom?: string;
}

export interface ApiKeyCredentials {
  readonly salt: string;
  readonly keyHash: string;
}

export interface ApiKeyRepository {
  createApiKey(key: ApiKey, credentials: ApiKeyCredentials): Promise<void>;
  getApiKey(id: string): Promise<ApiKey | undefined>;
  /** Credentials of an active (not revoked) key. */
  getApiKeyCredentials(id: string): Promise<ApiKeyCredentials | undefined>;
  /** An active key with its credentials, in one read: what authenticating a request needs. */
  getActiveApiKey(id: string): Promise<{ key: ApiKey; credentials: ApiKeyCredentials } | undefined>;
  listApiKeys(): Promise<ApiKey[]>;
  revokeApiKey(id: string, atMs: number): Promise<boolean>;
  touchApiKey(id: string, atMs: number): Promise<void>;
  countActiveApiKeys(role?: ApiRole): Promise<number>;
}
