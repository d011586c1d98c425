"""What a gateway serves and with which limits (API Gateway's by default)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = ["MAX_FRAME_BYTES", "MAX_URL_CHARACTERS", "GatewayError", "GatewaySettings"]

# API Gateway's fixed WebSocket quotas: a longer request URL is refused before anything
# runs; a larger frame closes the connection with 1009 (messages may be larger, in frames).
MAX_URL_CHARACTERS = 4096
MAX_FRAME_BYTES = 32 * 1024


class GatewayError(Exception):
    """The gateway cannot serve the API; the message says why."""


@dataclass(frozen=True)
class GatewaySettings:
    """What to serve and how. The limits default to API Gateway's."""

    api_id: str
    stage: str
    package_dirs: Sequence[Path]
    host: str = "127.0.0.1"
    ws_port: int = 0
    http_port: int = 0
    workers: int = 2
    # A connection idle this long, or open this long, is closed with 1001 (`timeouts`).
    idle_timeout: float = 600.0
    max_duration: float = 7200.0
    max_message_bytes: int = 128 * 1024
    max_frame_bytes: int = MAX_FRAME_BYTES
    max_url_characters: int = MAX_URL_CHARACTERS
    shutdown_timeout: float = 15.0
    # How long an invocation waits for a free worker before it fails as a throttled
    # Lambda invocation; None: the function's own Timeout.
    queue_timeout: float | None = None
    # The longest a Lambda authorizer may take, as API Gateway's integration limit.
    authorizer_timeout: float = 29.0
    # Added to every worker's Lambda environment (over the function's own variables; Lambda's
    # reserved variables still win), e.g. SSL_CERT_FILE for a local certificate authority.
    worker_environment: Mapping[str, str] = field(default_factory=dict)
    # "role": each function runs with temporary credentials of its execution role
    # (sts:AssumeRole on the control plane), as on Lambda; "gateway": with this process's.
    function_credentials: Literal["role", "gateway"] = "role"
    # A custom domain whose API mapping to this stage is served too: WebSocket clients on
    # `/<base path>` (`/` for an empty one) and `@connections` under the same prefix.
    domain_name: str | None = None
    # How often a function's role is assumed again (its credentials last an hour).
    credentials_refresh_seconds: float = 45 * 60.0
    # The fraction of closed connections whose $disconnect is never sent (API Gateway's is
    # best effort), and the seed of that draw (None: random); see `faults`.
    disconnect_drop_rate: float = 0.0
    fault_seed: int | None = None
    # Poll the region's enabled SQS event source mappings and invoke their functions, as
    # Lambda does (`sqs_poller`); False: read none of them.
    event_sources: bool = True
