/// <reference types="node" />
// Types of ws-bridge-backend (index.js): the Node verifier of apigw-websocket-bridge's
// request signatures, version 2.

export declare const VERSION: "v2";
export declare const TRUSTED_HEADERS: readonly string[];
export declare const MAX_CLOCK_SKEW_SECONDS: number;
export declare const MIN_KEY_BYTES: number;
export type Reason =
  | "missing_headers"
  | "bad_timestamp"
  | "stale"
  | "bad_nonce"
  | "bad_signature_format"
  | "bad_signed_headers"
  | "unsigned_header"
  | "missing_signed_header"
  | "bad_signature"
  | "replayed";
export declare const REASONS: readonly Reason[];

export declare class SignatureError extends Error {
  readonly reason: Reason;
  constructor(reason: Reason);
}

export declare class InvalidKeyError extends Error {}

export type Key = Buffer | string;
export type Headers = Record<string, string | string[] | undefined>;

export interface ReplayStore {
  /** Remember `nonce` until `expiresAt` (epoch seconds); false when it was already there. */
  add(nonce: string, timestamp: number, expiresAt: number, now: number): boolean | Promise<boolean>;
}

export declare class MemoryReplayStore implements ReplayStore {
  readonly size: number;
  add(nonce: string, timestamp: number, expiresAt: number, now: number): boolean;
}

export declare class RedisReplayStore implements ReplayStore {
  /** `set(key, ttlSeconds)` stores the key with SET NX EX and resolves true when it was new. */
  constructor(set: (key: string, ttlSeconds: number) => Promise<boolean>, options?: { prefix?: string });
  add(nonce: string, timestamp: number, expiresAt: number, now: number): Promise<boolean>;
}

export interface SignedRequest {
  /** Only the headers the signature covers, lowercase names. */
  headers: Record<string, string>;
  timestamp: number;
  nonce: string;
  /** The message's W3C traceparent, signed (docs/design.md, "Tracing"); null without a valid one. */
  traceparent: string | null;
}

export interface VerifierOptions {
  keys: Key[] | (() => Key[] | Promise<Key[]>);
  replay?: ReplayStore;
  windowSeconds?: number;
  trusted?: readonly string[];
  now?: () => number;
}

export interface Verifier {
  verify(request: { method: string; path: string; headers: Headers; body?: Buffer }): Promise<SignedRequest>;
}

export declare function createVerifier(options: VerifierOptions): Verifier;
export declare function checkKeys(keys: Key[]): Buffer[];
export declare function canonicalRequest(
  method: string,
  path: string,
  timestamp: string | number,
  nonce: string,
  headers: Record<string, string>,
  body: Buffer,
): Buffer;
export declare function signRequest(
  key: Key,
  method: string,
  path: string,
  body: Buffer,
  options?: { headers?: Record<string, string>; now?: number; nonce?: string },
): Record<string, string>;

/** True for a W3C traceparent (version 00, lowercase hex) whose ids are not all zeros. */
export declare function isValidTraceparent(value: unknown): value is string;
