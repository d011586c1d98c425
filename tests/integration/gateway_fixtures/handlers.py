"""Lambda handlers deployed by tests/integration/test_gateway.py (zipped by the test).

Every handler appends the event it received to the JSON-lines file named by the
function's own `EVENT_LOG` environment variable, so the test sees exactly what the
gateway delivered. Standard library only, plus boto3 where the Lambda runtime has it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any


def _record(kind: str, event: Any) -> None:
    line = json.dumps(
        {"function": os.environ["AWS_LAMBDA_FUNCTION_NAME"], "kind": kind, "event": event}
    )
    fd = os.open(os.environ["EVENT_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def authorize(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Allow tokens starting with "good", Deny others; special tokens misbehave."""
    _record("authorize", event)
    query = event.get("queryStringParameters") or {}
    token = query.get("token", "")
    if token == "garbage":
        raise Exception("Unauthorized")  # API Gateway's documented way to answer 401
    if token == "explode":
        raise RuntimeError("authorizer bug")
    answer_context: dict[str, Any] = {
        "userId": "user-1",
        "sessionId": query.get("session", "session-1"),
        "admin": False,
        "level": 3,
    }
    if token == "good-huge":
        answer_context["padding"] = "x" * 9000
    if token == "good-nested":
        answer_context["nested"] = {"not": "allowed"}
    effect = "Allow" if token.startswith("good") else "Deny"
    return {
        "principalId": "user-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}
            ],
        },
        "context": answer_context,
    }


def _probe_connections(event: dict[str, Any]) -> str:
    """Call @connections for this connection while $connect has not returned."""
    import boto3

    client = boto3.client("apigatewaymanagementapi")
    try:
        client.post_to_connection(
            ConnectionId=event["requestContext"]["connectionId"], Data=b"early"
        )
    except client.exceptions.GoneException:
        return "GoneException"
    return "delivered"


def _imports() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in ("boto3", "jwt", "websockets", "wslocal", "ws_bridge", "moto"):
        try:
            module = __import__(name)
        except ImportError:
            found[name] = None
        else:
            found[name] = getattr(module, "__file__", None) or "namespace"
    return found


def main(event: dict[str, Any], context: Any) -> dict[str, Any] | None:
    """$connect / $disconnect / messages: echo what arrived."""
    route = event["requestContext"]["routeKey"]
    if route == "$connect":
        query = event.get("queryStringParameters") or {}
        if query.get("probe") == "connections":
            event = {**event, "probe": _probe_connections(event)}
        _record(route, event)
        if "status" in query:
            return {"statusCode": int(query["status"]), "body": "rejected by $connect"}
        received = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        offered = received.get("sec-websocket-protocol", "")
        headers = {"X-Connect-Handler": "main"}
        if "bearer" in [p.strip() for p in offered.split(",")]:
            headers["Sec-WebSocket-Protocol"] = "bearer"
        if "x-force-subprotocol" in received:
            headers["Sec-WebSocket-Protocol"] = received["x-force-subprotocol"]
        return {"statusCode": 200, "headers": headers}
    _record(route, event)
    if route == "$disconnect":
        return {"statusCode": 200}
    try:
        message = json.loads(event["body"]) if not event["isBase64Encoded"] else None
    except ValueError:
        message = None
    action = message.get("action") if isinstance(message, dict) else None
    if action == "boom":
        raise RuntimeError("boom")
    if action == "crash":
        os._exit(3)
    if action == "nobody":
        return None
    reply: dict[str, Any] = {"route": route, "event": event}
    if action == "inspect":
        reply["imports"] = _imports()
        reply["environ"] = dict(os.environ)
        reply["sys_path"] = sys.path
        reply["context"] = {
            "aws_request_id": context.aws_request_id,
            "function_name": context.function_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        }
    return {"statusCode": 200, "body": json.dumps(reply)}


def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Outlives its function timeout unless the message says otherwise."""
    _record("slow", event)
    message = json.loads(event.get("body") or "{}")
    time.sleep(float(message.get("sleep", 5)))
    return {"statusCode": 200, "body": json.dumps({"slept": message.get("sleep", 5)})}
