"""One warm Lambda execution environment: imports a function's handler once, then runs it
for each invocation the gateway sends.

The gateway starts this file as a script, `python -I -S _worker.py TASK_ROOT RUNTIME_DIR
HANDLER FUNCTION_ARN [LAYER_PATH ...]`, with exactly the function's Lambda environment.
`-I -S` keep the gateway's own `sys.path` (its site-packages, `PYTHONPATH`, the source
tree) out: the handler sees the extracted package first, then the LAYER_PATHs (the
function's unpacked layers, as /opt/python... on Lambda), then RUNTIME_DIR, which holds
only what the Lambda Python runtime provides (boto3 and its dependencies), then the
standard library. A module missing from the package and its layers therefore fails here
as it fails on AWS.

Protocol, on stdin/stdout: frames of a 4-byte big-endian length and a UTF-8 JSON document.
After the handler is imported the worker writes `{"ready": true}` or `{"ready": false,
"error": {...}}`; then, for each request `{"event": ..., "requestId": ..., "deadlineMs":
...}`, it answers `{"result": ...}` or `{"error": {"errorType": ..., "errorMessage": ...}}`.
File descriptor 1 is pointed at stderr before the handler is imported, so what the handler
prints lands in the gateway's log as on CloudWatch, never in the protocol. Only the
standard library is imported here.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO

_HEADER = struct.Struct("!I")

Handler = Callable[[Any, Any], Any]


class LambdaContext:
    """The part of the Lambda context object handlers use."""

    def __init__(self, request_id: str, deadline_ms: int, function_arn: str) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(error_type: str, message: str, trace: list[str] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"errorType": error_type, "errorMessage": message}
    if trace:
        error["stackTrace"] = trace
    return error


def _load_handler(name: str) -> Handler:
    module_name, _, function_name = name.rpartition(".")
    if not module_name or not function_name:
        raise _InitError("Runtime.MalformedHandlerName", f"Bad handler '{name}': not enough values")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise _InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from exc
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise _InitError(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    return handler  # type: ignore[no-any-return]


class _InitError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def _read_frame(stream: BinaryIO) -> dict[str, Any] | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (length,) = _HEADER.unpack(header)
    body = stream.read(length)
    if len(body) < length:
        return None
    document: dict[str, Any] = json.loads(body)
    return document


def _encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _write_frame(fd: int, document: dict[str, Any] | bytes) -> None:
    body = document if isinstance(document, bytes) else _encode(document)
    data = memoryview(_HEADER.pack(len(body)) + body)
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _exit_with_parent() -> None:
    """Exit when the gateway is gone, even while a handler is still running."""
    parent = os.getppid()
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(1)


def _invoke(handler: Handler, request: dict[str, Any], function_arn: str) -> bytes:
    """The reply frame's body: the result, encoded once (which is also the check that the
    runtime can marshal it), or the error."""
    context = LambdaContext(str(request["requestId"]), int(request["deadlineMs"]), function_arn)
    try:
        result = handler(request["event"], context)
    except Exception as exc:  # noqa: BLE001 - the runtime reports every handler failure
        trace = traceback.format_exception(exc)
        print(f"[ERROR] {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return _encode({"error": _error(type(exc).__name__, str(exc), trace)})
    try:
        return _encode({"result": result})
    except (TypeError, ValueError) as exc:
        error = _error("Runtime.MarshalError", f"Unable to marshal response: {exc}")
        return _encode({"error": error})


def main(argv: list[str]) -> int:
    task_root, runtime_dir, handler_name, function_arn = argv[1:5]
    layer_paths = argv[5:]
    # The gateway decides when this process ends: Ctrl-C and SIGTERM sent to the whole
    # process group must not kill an invocation the gateway is still waiting for (the
    # gateway fires $disconnect while it shuts down). End of stdin means "exit".
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, name="parent-watch", daemon=True).start()

    protocol_out = os.dup(1)
    protocol_in = os.fdopen(os.dup(0), "rb")
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]

    sys.path[0:0] = [task_root, *layer_paths, runtime_dir]
    os.chdir(task_root)

    handler: Handler | None = None
    init_error: dict[str, Any] | None = None
    try:
        handler = _load_handler(handler_name)
    except _InitError as exc:
        init_error = _error(exc.error_type, str(exc))
    except Exception as exc:  # noqa: BLE001 - an import-time failure of the package
        init_error = _error(type(exc).__name__, str(exc), traceback.format_exception(exc))
    if init_error is not None:
        print(f"[ERROR] {init_error['errorType']}: {init_error['errorMessage']}", file=sys.stderr)
        _write_frame(protocol_out, {"ready": False, "error": init_error})
    else:
        _write_frame(protocol_out, {"ready": True})

    while True:
        request = _read_frame(protocol_in)
        if request is None:
            return 0
        if handler is None:
            assert init_error is not None
            _write_frame(protocol_out, {"error": init_error})
            continue
        _write_frame(protocol_out, _invoke(handler, request, function_arn))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
