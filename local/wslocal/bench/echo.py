"""The echo baseline: a bare ``websockets`` server in another process (so that it does not
share the load generator's event loop), started as ``python -m wslocal.bench --echo-server``."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from typing import Final

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

__all__ = ["echo_server", "with_echo_server"]

ECHO_READY: Final = "echo ready ws://127.0.0.1:"


async def echo_server() -> None:
    async def echo(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                await ws.send(message)

    async with serve(echo, "127.0.0.1", 0, compression=None, ping_interval=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"{ECHO_READY}{port}", flush=True)
        with contextlib.suppress(EOFError):
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def with_echo_server[T](run: Callable[[str], Awaitable[T]]) -> T:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wslocal.bench",
        "--echo-server",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stdin is not None
    try:
        async with asyncio.timeout(30):
            line = (await process.stdout.readline()).decode()
        if not line.startswith(ECHO_READY):
            raise RuntimeError(f"the echo server did not start: {line!r}")
        return await run(f"ws://127.0.0.1:{int(line[len(ECHO_READY) :])}")
    finally:
        process.stdin.close()
        try:
            async with asyncio.timeout(10):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
