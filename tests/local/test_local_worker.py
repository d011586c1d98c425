"""The local gateway's Lambda worker: what it sends back for a handler's result."""

from __future__ import annotations

import json

from wslocal.gateway import _worker


def test_the_worker_encodes_a_result_once_and_refuses_what_cannot_be_marshalled() -> None:
    request = {"requestId": "r-1", "deadlineMs": 0, "event": {"body": "hi"}}
    reply = _worker._invoke(lambda event, context: {"body": event["body"] + " é"}, request, "a")
    assert json.loads(reply) == {"result": {"body": "hi é"}}
    refused = json.loads(_worker._invoke(lambda event, context: {"x": object()}, request, "a"))
    assert refused["error"]["errorType"] == "Runtime.MarshalError"
    assert "Unable to marshal response" in refused["error"]["errorMessage"]


def test_a_failing_handler_is_reported_with_its_type() -> None:
    def failing(event: object, context: object) -> None:
        raise KeyError("missing")

    request = {"requestId": "r-1", "deadlineMs": 0, "event": {}}
    error = json.loads(_worker._invoke(failing, request, "a"))["error"]
    assert (error["errorType"], error["errorMessage"]) == ("KeyError", "'missing'")
