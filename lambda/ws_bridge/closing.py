"""Closing a connection from the handler: the ``token_expired`` error, then ``DELETE
@connections/{id}``, so a connection never outlives its token."""

from __future__ import annotations

import os

from botocore.exceptions import BotoCoreError, ClientError

from ws_bridge import aws, logs
from ws_bridge.events import RequestInfo

__all__ = ["close_connection", "management_endpoint"]

log = logs.get_logger("handler")


def management_endpoint(info: RequestInfo) -> str | None:
    """The ``@connections`` base URL: ``AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI`` when set
    (a local gateway sets it for its workers), else the stage's execute-api URL."""
    configured = os.environ.get("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI", "").strip()
    if configured:
        return configured
    region = os.environ.get("AWS_REGION", "").strip()
    if not (info.api_id and info.stage and region):
        return None
    return f"https://{info.api_id}.execute-api.{region}.amazonaws.com/{info.stage}"


def close_connection(info: RequestInfo, farewell: str) -> None:
    """Send ``farewell`` to the connection, then close it (``DELETE @connections/{id}``).
    Best effort: a failure is logged; the connection ends at the latest after 2 hours."""
    endpoint = management_endpoint(info)
    if endpoint is None or not info.connection_id:
        log.error("connection not closed: no @connections endpoint")
        return
    management = aws.management_api(endpoint)
    for step in ("post", "delete"):
        try:
            if step == "post":
                management.post_to_connection(
                    ConnectionId=info.connection_id, Data=farewell.encode("utf-8")
                )
            else:
                management.delete_connection(ConnectionId=info.connection_id)
        except (ClientError, BotoCoreError) as exc:
            code = (
                str(exc.response.get("Error", {}).get("Code", "Unknown"))
                if isinstance(exc, ClientError)
                else type(exc).__name__
            )
            log.warning("closing an expired connection failed", extra={"step": step, "code": code})
