"use strict";
// Generated from contract/contract.json by tools/contract.py (make contract): do not edit.

const VERSION = "v2";
const TIMESTAMP_HEADER = "x-bridge-timestamp";
const NONCE_HEADER = "x-bridge-nonce";
const SIGNED_HEADERS_HEADER = "x-bridge-signed-headers";
const SIGNATURE_HEADER = "x-bridge-signature";
const TRUSTED_HEADERS = Object.freeze(["authorization", "traceparent", "x-connection-id"]);
const MAX_CLOCK_SKEW_SECONDS = 300;
const MIN_KEY_BYTES = 32;
const REASONS = Object.freeze(["missing_headers", "bad_timestamp", "stale", "bad_nonce", "bad_signature_format", "bad_signed_headers", "unsigned_header", "missing_signed_header", "bad_signature", "replayed"]);
const TRACE_HEADER = "traceparent";
const TRACEPARENT_PATTERN = "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$";

module.exports = { VERSION, TIMESTAMP_HEADER, NONCE_HEADER, SIGNED_HEADERS_HEADER, SIGNATURE_HEADER, TRUSTED_HEADERS, MAX_CLOCK_SKEW_SECONDS, MIN_KEY_BYTES, REASONS, TRACE_HEADER, TRACEPARENT_PATTERN };
