"""The App Runner example's app (examples/app-runner/app) as a service of the local stack.

It runs the app under uvicorn from the example's directory with the environment App Runner
gives it (CONNECTIONS_TABLE, CALLBACK_URL, BACKEND_SIGNING_SECRET_ARN,
SIGNING_KEY_TTL_SECONDS, REDIS_URL, REDIS_AUTH, AWS_REGION), the AWS credentials of the
backend role examples/local creates (as App Runner's instance role), and the stack's Redis as
its session store, after writing the sessions' members there as a team's own service would::

    python -m wslocal.example_backend --port 8081 --redis-url redis://127.0.0.1:6380/0 \\
        --table ws-local-connections --callback-url http://127.0.0.1:8082/local \\
        --signing-secret-arn arn:aws:... --key-ttl-seconds 300 --session lab-1:alice

It binds 127.0.0.1 only and stops on SIGTERM or SIGINT (uvicorn's own handling).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["APP_DIRECTORY", "main", "seed_members"]

APP_DIRECTORY = Path(__file__).resolve().parents[2] / "examples" / "app-runner" / "app"


def seed_members(redis_url: str, sessions: Sequence[tuple[str, str]]) -> None:
    """Each session's members as the app reads them (``example_app.store.members_key``)."""
    import redis

    sys.path.insert(0, str(APP_DIRECTORY))
    from example_app.store import members_key

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=5)
    try:
        with client.pipeline(transaction=True) as pipe:
            for session_id in {session for session, _ in sessions}:
                pipe.delete(members_key(session_id))
            for session_id, user in sessions:
                pipe.sadd(members_key(session_id), user)
            pipe.execute()
    finally:
        client.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wslocal.example_backend",
        description="The App Runner example's app under uvicorn, configured as App Runner would.",
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True, help="the session store")
    parser.add_argument("--table", required=True, help="the connections table")
    parser.add_argument("--callback-url", required=True, help="the stage's @connections URL")
    parser.add_argument("--signing-secret-arn", required=True)
    parser.add_argument("--key-ttl-seconds", type=float, default=300.0)
    parser.add_argument("--role-arn", help="run with this role's credentials (the instance role)")
    parser.add_argument("--session", action="append", default=[], metavar="ID:USER")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sessions = []
    for value in args.session:
        session_id, sep, user = value.partition(":")
        if not sep or not session_id or not user:
            _parser().error(f"--session takes ID:USER, got {value!r}")
        sessions.append((session_id, user))
    seed_members(args.redis_url, sessions)
    os.environ.update(
        {
            "CONNECTIONS_TABLE": args.table,
            "CALLBACK_URL": args.callback_url,
            "BACKEND_SIGNING_SECRET_ARN": args.signing_secret_arn,
            "SIGNING_KEY_TTL_SECONDS": str(args.key_ttl_seconds),
            "REDIS_URL": args.redis_url,
            "REDIS_AUTH": "none",  # the stack's Redis has no IAM: ElastiCache's is untested here
        }
    )
    if args.role_arn:
        from wslocal.role_credentials import assume_backend_role

        assume_backend_role(args.role_arn)
    import uvicorn

    os.chdir(APP_DIRECTORY)
    sys.path.insert(0, str(APP_DIRECTORY))
    uvicorn.run(
        "example_app.main:from_env",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
