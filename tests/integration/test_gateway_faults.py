"""The local gateway's network faults, for tests that break the network on purpose:
connections cut without a close frame on demand (``POST /_wslocal/faults/drop``), and
``$disconnect`` events lost at a rate (``--drop-disconnect-rate``), as API Gateway's best
effort. (Short ``--idle-timeout`` and ``--max-duration``: test_gateway.py.)"""

# The emulator, the Lambda package and the API are test_gateway.py's fixtures, imported by
# name (pytest finds a fixture by the parameter that names it: hence F401 and F811).
# ruff: noqa: F401, F811

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from test_gateway import STAGE, Api, Aws, _connect, _connection_id, aws, main_api
from websockets.exceptions import ConnectionClosedError

from wslocal.gateway import GatewaySettings, GatewayThread
from wslocal.gateway.__main__ import parse_args

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def gateway_with(aws: Aws, api: Api, **settings: Any) -> GatewayThread:
    return GatewayThread(
        GatewaySettings(
            api_id=api.api_id, stage=STAGE, package_dirs=(aws.package_dir,), workers=1, **settings
        )
    )


@pytest.fixture(scope="module")
def gateway(aws: Aws, main_api: Api) -> Iterator[Any]:
    with gateway_with(aws, main_api) as running:
        yield running


def drop(gateway: Any, body: Any, method: str = "POST") -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.http_port, timeout=10)
    try:
        connection.request(method, "/_wslocal/faults/drop", body=json.dumps(body))
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def test_drop_cuts_connections_without_a_close_frame(aws: Aws, gateway: Any) -> None:
    first = _connect(gateway, "token=good&session=lab-a")
    second = _connect(gateway, "token=good&session=lab-a")
    other = _connect(gateway, "token=good&session=lab-b")
    ids = [_connection_id(ws) for ws in (first, second, other)]

    status, answer = drop(gateway, {"sessionId": "lab-a"})
    assert status == 200
    assert sorted(answer["dropped"]) == sorted(ids[:2])
    for ws in (first, second):
        with pytest.raises(ConnectionClosedError):
            ws.recv(timeout=5)
        assert ws.protocol.close_rcvd is None  # no close frame: a network drop
        assert ws.close_code == 1006
    for cid in ids[:2]:
        context = aws.wait_for(cid, "$disconnect")["event"]["requestContext"]
        assert context["disconnectStatusCode"] == 1006
    assert _connection_id(other) == ids[2]  # the other session's connection lives on

    assert drop(gateway, {"connectionId": ids[2]}) == (200, {"dropped": [ids[2]]})
    with pytest.raises(ConnectionClosedError):
        other.recv(timeout=5)
    assert drop(gateway, {}) == (200, {"dropped": []})


def test_drop_refuses_what_it_cannot_read(gateway: Any) -> None:
    assert drop(gateway, {"sessionId": 7})[0] == 400
    assert drop(gateway, ["not", "an", "object"])[0] == 400
    assert drop(gateway, {}, method="GET")[0] == 400


def test_disconnect_events_are_lost_at_the_rate_asked(aws: Aws, main_api: Api) -> None:
    def closed_and_reported(rate: float, count: int) -> int:
        with gateway_with(aws, main_api, disconnect_drop_rate=rate, fault_seed=7) as gateway:
            ids = []
            for _ in range(count):
                ws = _connect(gateway)
                ids.append(_connection_id(ws))
                ws.close()
            time.sleep(1.0)  # the $disconnect invocations that were kept have run
        return sum(1 for cid in ids if aws.events_of(cid, "$disconnect"))

    assert closed_and_reported(1.0, 5) == 0
    assert closed_and_reported(0.0, 5) == 5
    # 40 draws at 0.5: outside 8..32 kept has a probability under 1e-4 (and the seed is fixed).
    assert 8 <= closed_and_reported(0.5, 40) <= 32


def test_the_cli_takes_the_faults_and_short_limits() -> None:
    base = ["--api-id", "a", "--stage", "s", "--package-dir", "p"]
    args = parse_args(
        [*base, "--drop-disconnect-rate", "0.1", "--max-duration", "2", "--idle-timeout", "0.5"]
    )
    assert (args.drop_disconnect_rate, args.max_duration, args.idle_timeout) == (0.1, 2.0, 0.5)
    with pytest.raises(SystemExit):
        parse_args([*base, "--drop-disconnect-rate", "1.5"])
