"""The facts every part shares.

Generated from contract/contract.json by tools/contract.py (make contract): do not edit.
"""

from __future__ import annotations

from typing import Literal, NamedTuple


class EnvVar(NamedTuple):
    """An environment variable of a function: its type, default and bounds."""

    name: str
    type: str
    default: str | int | float | bool | None = None
    min: int | float | None = None
    max: int | float | None = None
    required: bool = False


AUTHORIZER_ENVIRONMENT: dict[str, EnvVar] = {
    "JWT_ALGORITHMS": EnvVar(name="JWT_ALGORITHMS", type="algorithms", default="HS256"),
    "JWT_SECRET_ARN": EnvVar(name="JWT_SECRET_ARN", type="string"),
    "JWT_SECRET_PARAMETER": EnvVar(name="JWT_SECRET_PARAMETER", type="string"),
    "JWT_SECRET_JSON_KEY": EnvVar(name="JWT_SECRET_JSON_KEY", type="string"),
    "JWT_JWKS_URL": EnvVar(name="JWT_JWKS_URL", type="url"),
    "JWT_ISSUER": EnvVar(name="JWT_ISSUER", type="string"),
    "JWT_AUDIENCE": EnvVar(name="JWT_AUDIENCE", type="string"),
    "JWT_LEEWAY_SECONDS": EnvVar(name="JWT_LEEWAY_SECONDS", type="int", default=30, min=0, max=300),
    "JWT_USER_CLAIM": EnvVar(name="JWT_USER_CLAIM", type="string", default="sub"),
    "JWT_SESSION_CLAIM": EnvVar(name="JWT_SESSION_CLAIM", type="string", default="sessionId"),
    "ALLOWED_SOURCE_CIDRS": EnvVar(name="ALLOWED_SOURCE_CIDRS", type="cidrs"),
    "LOG_LEVEL": EnvVar(name="LOG_LEVEL", type="log_level", default="INFO"),
    "METRICS_NAMESPACE": EnvVar(name="METRICS_NAMESPACE", type="string", default="WebSocketBridge"),
    "METRICS_SERVICE": EnvVar(name="METRICS_SERVICE", type="string", default="ws-bridge"),
}

CONNECTION_HANDLER_ENVIRONMENT: dict[str, EnvVar] = {
    "CONNECTIONS_TABLE": EnvVar(name="CONNECTIONS_TABLE", type="string", required=True),
    "SUBSCRIPTIONS_TABLE": EnvVar(name="SUBSCRIPTIONS_TABLE", type="string"),
    "BACKEND_URL": EnvVar(name="BACKEND_URL", type="backend_url", required=True),
    "BACKEND_VALIDATE_PATH": EnvVar(
        name="BACKEND_VALIDATE_PATH", type="path", default="/api/labs/session/{sessionId}/validate"
    ),
    "BACKEND_MESSAGE_PATH": EnvVar(
        name="BACKEND_MESSAGE_PATH", type="path", default="/api/ws/message"
    ),
    "BACKEND_DISCONNECT_PATH": EnvVar(
        name="BACKEND_DISCONNECT_PATH", type="path", default="/api/ws/disconnect"
    ),
    "BACKEND_TIMEOUT_SECONDS": EnvVar(
        name="BACKEND_TIMEOUT_SECONDS", type="seconds", default=10, max=25
    ),
    "BACKEND_FAIL_OPEN": EnvVar(name="BACKEND_FAIL_OPEN", type="bool", default=False),
    "DISCONNECT_TIMEOUT_SECONDS": EnvVar(
        name="DISCONNECT_TIMEOUT_SECONDS", type="seconds", default=2, max=25
    ),
    "BACKEND_SIGNING_SECRET_ARN": EnvVar(name="BACKEND_SIGNING_SECRET_ARN", type="string"),
    "BACKEND_SIGNING_KEY_REFRESH_SECONDS": EnvVar(
        name="BACKEND_SIGNING_KEY_REFRESH_SECONDS", type="int", default=300, min=1, max=3600
    ),
    "TOKEN_EXPIRY_ENFORCED": EnvVar(name="TOKEN_EXPIRY_ENFORCED", type="bool", default=True),
    "LOG_LEVEL": EnvVar(name="LOG_LEVEL", type="log_level", default="INFO"),
    "METRICS_NAMESPACE": EnvVar(name="METRICS_NAMESPACE", type="string", default="WebSocketBridge"),
    "METRICS_SERVICE": EnvVar(name="METRICS_SERVICE", type="string", default="ws-bridge"),
}

FANOUT_WORKER_ENVIRONMENT: dict[str, EnvVar] = {
    "CONNECTIONS_TABLE": EnvVar(name="CONNECTIONS_TABLE", type="string", required=True),
    "SUBSCRIPTIONS_TABLE": EnvVar(name="SUBSCRIPTIONS_TABLE", type="string", required=True),
    "CALLBACK_URL": EnvVar(name="CALLBACK_URL", type="url", required=True),
    "FANOUT_QUEUE_URL": EnvVar(name="FANOUT_QUEUE_URL", type="url", required=True),
    "FANOUT_MAX_IDS_PER_MESSAGE": EnvVar(
        name="FANOUT_MAX_IDS_PER_MESSAGE", type="int", default=1000, min=1, max=5000
    ),
    "FANOUT_CONCURRENCY": EnvVar(name="FANOUT_CONCURRENCY", type="int", default=32, min=1, max=128),
    "FANOUT_MAX_ATTEMPTS": EnvVar(name="FANOUT_MAX_ATTEMPTS", type="int", default=5, min=1, max=20),
    "LOG_LEVEL": EnvVar(name="LOG_LEVEL", type="log_level", default="INFO"),
    "METRICS_NAMESPACE": EnvVar(name="METRICS_NAMESPACE", type="string", default="WebSocketBridge"),
    "METRICS_SERVICE": EnvVar(name="METRICS_SERVICE", type="string", default="ws-bridge"),
}

CONNECTIONS_GAUGE_ENVIRONMENT: dict[str, EnvVar] = {
    "CONNECTIONS_TABLE": EnvVar(name="CONNECTIONS_TABLE", type="string", required=True),
    "LOG_LEVEL": EnvVar(name="LOG_LEVEL", type="log_level", default="INFO"),
    "METRICS_NAMESPACE": EnvVar(name="METRICS_NAMESPACE", type="string", default="WebSocketBridge"),
    "METRICS_SERVICE": EnvVar(name="METRICS_SERVICE", type="string", default="ws-bridge"),
}

type ErrorCode = Literal[
    "invalid_json",
    "not_an_object",
    "message_too_large",
    "invalid_request",
    "token_expired",
    "backend_unavailable",
    "backend_timeout",
    "backend_error",
    "backend_invalid_reply",
    "internal_error",
]

# The connection handler's error replies: the integration status, the text.
ERRORS: dict[ErrorCode, tuple[int, str]] = {
    "invalid_json": (400, "The message must be UTF-8 JSON."),
    "not_an_object": (400, "The message must be a JSON object."),
    "message_too_large": (413, "The message is larger than 128 KB."),
    "invalid_request": (400, "The request holds text that cannot be sent to the backend."),
    "token_expired": (401, "The token has expired: reconnect with a fresh one."),
    "backend_unavailable": (502, "The backend cannot be reached."),
    "backend_timeout": (504, "The backend did not answer in time."),
    "backend_error": (502, "The backend could not handle the message."),
    "backend_invalid_reply": (502, "The backend's reply was not usable JSON."),
    "internal_error": (500, "The message could not be handled."),
}

# $connect rejections: the status API Gateway refuses the upgrade with.
REJECTIONS: dict[str, int] = {
    "not_authorized": 401,
    "session_required": 400,
    "invalid_request": 400,
    "backend_signature_refused": 502,
    "backend_forbidden": 403,
    "backend_rejected": 400,
    "backend_unavailable": 502,
    "registry_unavailable": 503,
    "registry_error": 500,
    "internal_error": 500,
}

BACKEND_URL_SCHEMES = ("https",)
BACKEND_URL_HTTP_HOSTS = ("127.0.0.1", "localhost", "host.docker.internal")
HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

MAX_MESSAGE_BYTES = 131072
MAX_FRAME_BYTES = 32768
MAX_CONNECTION_SECONDS = 7200
IDLE_TIMEOUT_SECONDS = 600
MAX_INTEGRATION_SECONDS = 29
MAX_FUNCTION_TIMEOUT_SECONDS = 28

REGISTRY_ATTEMPTS = 3
REGISTRY_CONNECT_TIMEOUT_SECONDS = 1
REGISTRY_READ_TIMEOUT_SECONDS = 1
REGISTRY_BACKOFF_SECONDS = (0.025, 0.05)
REGISTRY_THROTTLED_BACKOFF_SECONDS = (0.25, 0.5)

SIGNING_VERSION = "v2"
SIGNING_WINDOW_SECONDS = 300
SIGNING_MIN_KEY_BYTES = 32
TIMESTAMP_HEADER = "X-Bridge-Timestamp"
NONCE_HEADER = "X-Bridge-Nonce"
SIGNED_HEADERS_HEADER = "X-Bridge-Signed-Headers"
SIGNATURE_HEADER = "X-Bridge-Signature"
TRUSTED_HEADERS = ("authorization", "traceparent", "x-connection-id")
SIGNATURE_REFUSALS = (
    "missing_headers",
    "bad_timestamp",
    "stale",
    "bad_nonce",
    "bad_signature_format",
    "bad_signed_headers",
    "unsigned_header",
    "missing_signed_header",
    "bad_signature",
    "replayed",
)

# The session protocol (docs/design.md, "Session protocol").
ID_PATTERN = "^[A-Za-z0-9._:-]{1,64}$"
CLIENT_ID_LENGTH = 12
type ClientErrorCode = Literal[
    "refused",
    "connect_timeout",
    "reply_timeout",
    "connection_lost",
    "closed",
    "no_token",
    "message_too_large",
    "queue_full",
    "kicked",
    "gave_up",
    "resume_failed",
]
CLIENT_ERROR_CODES: tuple[ClientErrorCode, ...] = (
    "refused",
    "connect_timeout",
    "reply_timeout",
    "connection_lost",
    "closed",
    "no_token",
    "message_too_large",
    "queue_full",
    "kicked",
    "gave_up",
    "resume_failed",
)
CLIENT_DEFAULTS_MS = {
    "connectTimeout": 25000,
    "replyTimeout": 30000,
    "keepalive": 300000,
    "gapTimeout": 2000,
    "maxDuration": 7200000,
    "rolloverMargin": 300000,
    "backoffBase": 1000,
    "backoffMax": 30000,
}
CLIENT_DEFAULTS = {"maxQueue": 100, "maxAttempts": 5}
# W3C Trace Context: frame field, backend header, a valid value, a new trace's flags.
TRACE_FIELD = "traceparent"
TRACE_HEADER = "traceparent"
TRACEPARENT_PATTERN = "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
TRACE_NEW_FLAGS = "01"


class FrameType:
    """The `type` of every frame the protocol names."""

    PING = "ping"
    RESUME = "resume"
    PONG = "pong"
    ERROR = "error"
    RESUMED = "resumed"
    RESYNC_REQUIRED = "resync_required"
    PENDING = "pending"
    CHUNK = "chunk"
    ROTATE = "rotate"
    KICKED = "kicked"


# Topics and the fan-out queue (docs/fanout.md).
FANOUT_VERSION = 1
FANOUT_MAX_IDS_PER_MESSAGE = 1000
FANOUT_MAX_QUEUE_MESSAGE_BYTES = 262144
FANOUT_SEND_BATCH_ENTRIES = 10
FANOUT_TOPIC_SHARDS = 16
FANOUT_MAX_TOPIC_SHARDS = 1000
FANOUT_TOPIC_PATTERN = "^[A-Za-z0-9._:/-]{1,128}$"
FANOUT_DIRECT_THRESHOLD = 100
FANOUT_FIELD_VERSION = "v"
FANOUT_FIELD_DATA = "data"
FANOUT_FIELD_CONNECTION_IDS = "connectionIds"
FANOUT_FIELD_TOPIC = "topic"
FANOUT_FIELD_SHARD = "shard"
FANOUT_FIELD_START_KEY = "startKey"
FANOUT_FIELD_ATTEMPT = "attempt"
SUBSCRIPTIONS_PARTITION_KEY = "topicShard"
SUBSCRIPTIONS_SORT_KEY = "connectionId"
SUBSCRIPTIONS_TOPIC_ATTRIBUTE = "topic"
SUBSCRIPTIONS_CONNECTION_INDEX = "connectionId-index"
SUBSCRIPTIONS_TTL_ATTRIBUTE = "expiresAt"
SUBSCRIPTIONS_SHARD_SEPARATOR = "#"
