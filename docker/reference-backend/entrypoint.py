"""Start the reference backend in a container: its flags from the environment, every
interface bound (a container's port is reached from outside it; the local stack binds
127.0.0.1 only).

PORT (default 8080), CONNECTIONS_TABLE and CALLBACK_URL (push through @connections),
JWT_SECRET_ARN (required: the HS256 key the authorizer verifies with), JWT_ISSUER,
JWT_AUDIENCE, SESSIONS (space-separated ID:USER pairs), LOG_LEVEL.
"""

from __future__ import annotations

import importlib
import os
import sys


def arguments(env: dict[str, str]) -> list[str]:
    argv = ["--port", env.get("PORT", "8080"), "--jwt-secret-arn", env["JWT_SECRET_ARN"]]
    for name, flag in (
        ("CONNECTIONS_TABLE", "--table"),
        ("CALLBACK_URL", "--callback-url"),
        ("JWT_ISSUER", "--jwt-issuer"),
        ("JWT_AUDIENCE", "--jwt-audience"),
        ("LOG_LEVEL", "--log-level"),
    ):
        if env.get(name):
            argv += [flag, env[name]]
    for session in env.get("SESSIONS", "").split():
        argv += ["--session", session]
    return argv


def main() -> int:
    # wslocal.backend is being renamed wslocal.reference_backend; take whichever exists.
    for name in ("wslocal.reference_backend", "wslocal.backend"):
        try:
            backend = importlib.import_module(name)
            break
        except ModuleNotFoundError:
            continue
    else:
        print("entrypoint: no reference backend module found", file=sys.stderr)
        return 1
    setattr(backend, "HOST", "0.0.0.0")  # noqa: B010, S104 - a container serves on all its interfaces
    result: int = backend.main(arguments(dict(os.environ)))
    return result


if __name__ == "__main__":
    sys.exit(main())
