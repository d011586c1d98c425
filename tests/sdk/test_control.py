"""Kicks, rotations and the session layer's fan-out over the SDK's Pusher, with a recording
@connections client: a kick says why before it closes, and closes even when the reason
cannot be sent; the fan-out reads the registry once per message and posts each frame of
it, in order, to every connection but the requester. (tests/integration/test_sessions.py
runs them through the local gateway.)"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ws_bridge_backend.control import SessionControl
from ws_bridge_backend.delivery import PusherDelivery
from ws_bridge_backend.push import Pusher, PushResult
from ws_bridge_backend.registry import ConnectionRecord


class GoneError(ClientError):
    pass


def client_error(code: str, cls: type[ClientError] = ClientError) -> ClientError:
    return cls({"Error": {"Code": code, "Message": code}}, "PostToConnection")


class Management:
    """An @connections client that records calls; ``gone`` ids answer 410, ``failing``
    ids fail their posts with a 500."""

    def __init__(self, gone: set[str] | None = None, failing: set[str] | None = None) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.gone = gone or set()
        self.failing = failing or set()
        self.exceptions = SimpleNamespace(GoneException=GoneError)

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> None:
        self.calls.append(("post", ConnectionId, json.loads(Data)))
        if ConnectionId in self.gone:
            raise client_error("GoneException", GoneError)
        if ConnectionId in self.failing:
            raise client_error("InternalServerError")

    def delete_connection(self, ConnectionId: str) -> None:
        self.calls.append(("delete", ConnectionId, None))
        if ConnectionId in self.gone:
            raise client_error("GoneException", GoneError)


class Registry:
    def __init__(self, *records: ConnectionRecord) -> None:
        self.records = list(records)
        self.queries = 0

    def for_session(self, session_id: str) -> list[ConnectionRecord]:
        self.queries += 1
        return [record for record in self.records if record.session_id == session_id]

    def delete_gone(self, connection_id: str, *, connected_before_ms: int) -> bool:
        return True


def record(connection_id: str, user: str = "alice", session: str = "lab-1") -> ConnectionRecord:
    return ConnectionRecord(connection_id, session, user, 0, 2**40)


def pusher(management: Management, registry: Registry) -> Pusher:
    return Pusher(registry, management=management, concurrency=1)  # type: ignore[arg-type]


def test_a_kick_says_why_then_closes() -> None:
    management = Management()
    control = SessionControl(pusher(management, Registry()))
    assert control.disconnect("c1", "removed from the lab") is True
    assert management.calls == [
        ("post", "c1", {"type": "kicked", "reason": "removed from the lab"}),
        ("delete", "c1", None),
    ]


def test_a_kick_closes_even_when_its_reason_cannot_be_sent() -> None:
    management = Management(failing={"c1"})
    assert SessionControl(pusher(management, Registry())).disconnect("c1", "bye") is True
    assert [call[0] for call in management.calls] == ["post", "delete"]
    gone = Management(gone={"c2"})
    assert SessionControl(pusher(gone, Registry())).disconnect("c2", "bye") is False
    with pytest.raises(ValueError, match="1024"):
        SessionControl(pusher(gone, Registry())).disconnect("c2", "x" * 1025)


def test_a_user_is_kicked_from_a_session_on_each_connection() -> None:
    management = Management()
    registry = Registry(record("a1"), record("a2"), record("b1", "bob"), record("a3", session="x"))
    kicked = SessionControl(pusher(management, registry)).disconnect_user("lab-1", "alice", "bye")
    assert kicked == 2
    assert [(kind, target) for kind, target, _ in management.calls] == [
        ("post", "a1"),
        ("delete", "a1"),
        ("post", "a2"),
        ("delete", "a2"),
    ]


def test_rotate_reaches_one_connection_or_a_whole_session() -> None:
    management = Management(gone={"old"})
    control = SessionControl(pusher(management, Registry(record("a1"), record("b1", "bob"))))
    assert control.rotate("a1") is True
    assert control.rotate("old") is False
    assert control.rotate_session("lab-1") == PushResult(sent=2)
    assert all(call[2] == {"type": "rotate"} for call in management.calls)


def test_the_fan_out_reads_the_registry_once_and_posts_each_frame_in_order() -> None:
    management = Management()
    registry = Registry(record("a1"), record("b1", "bob"), record("c1", "carol"))
    delivery = PusherDelivery(pusher(management, registry))
    frames = ['{"seq":4,"type":"chunk"}', '{"seq":5,"type":"chunk"}']
    result = delivery.to_session("lab-1", frames, exclude="a1")
    assert result == PushResult(sent=4)
    assert registry.queries == 1
    assert [(target, body["seq"]) for _, target, body in management.calls] == [
        ("b1", 4),
        ("c1", 4),
        ("b1", 5),
        ("c1", 5),
    ]
    assert delivery.to_session("nobody", frames) == PushResult()


def test_frames_for_the_requester_stop_at_the_first_failure() -> None:
    management = Management(failing={"a1"})
    delivery = PusherDelivery(pusher(management, Registry()))
    delivery.to_connection("a1", ['{"seq":1}', '{"seq":2}'])
    assert [body["seq"] for _, _, body in management.calls] == [1]
