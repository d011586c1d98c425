"""The session store (ElastiCache Valkey/Redis): who may open which session, and the nonces
of the requests the app accepted (shared by every instance, so a request replays nowhere).

Membership layout: a set ``ws-bridge:session:<sessionId>:members`` of user ids, written by
whatever owns your sessions (a team's own service; the local stack seeds it). A session
without that key is unknown (404); a user not in it may not open it (403).

On AWS the store speaks TLS and authenticates with IAM (``REDIS_AUTH=iam``, what
modules/session_store sets up by default): the password is a SigV4-presigned ``connect``
request for the user and the replication group, signed with the instance role's
credentials, valid 15 minutes; redis-py asks for a fresh one for every new connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote

import redis
from redis.credentials import CredentialProvider

__all__ = [
    "CallbackMembership",
    "ElastiCacheIAMProvider",
    "Membership",
    "RedisMembership",
    "members_key",
    "redis_client",
]

TOKEN_SECONDS = 900  # an IAM token is valid 15 minutes
TOKEN_REUSE_SECONDS = 600  # a new one is signed well before


def members_key(session_id: str) -> str:
    return f"ws-bridge:session:{session_id}:members"


class Membership(Protocol):
    """Who may open a session: True (yes), False (403), None (no such session: 404)."""

    def allows(self, session_id: str, user_id: str) -> bool | None: ...


class CallbackMembership:
    """Membership from a function of yours: ``allows(session_id, user_id)`` → True, False
    or None (unknown session)."""

    def __init__(self, allows: Callable[[str, str], bool | None]) -> None:
        self._allows = allows

    def allows(self, session_id: str, user_id: str) -> bool | None:
        return self._allows(session_id, user_id)


class RedisMembership:
    """Membership in the session store's sets."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def allows(self, session_id: str, user_id: str) -> bool | None:
        key = members_key(session_id)
        with self._client.pipeline(transaction=False) as pipe:
            pipe.exists(key)
            pipe.sismember(key, user_id)
            exists, member = pipe.execute()
        return bool(member) if exists else None


class ElastiCacheIAMProvider(CredentialProvider):
    """(user, IAM token) for ElastiCache IAM authentication, the token re-signed every 10
    minutes with the credentials boto3 finds (the App Runner instance role)."""

    def __init__(
        self,
        user: str,
        cache_name: str,
        region: str,
        *,
        session: Any | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import botocore.session

        self.user = user
        self.cache_name = cache_name
        self.region = region
        self._session = session or botocore.session.get_session()
        self._clock = clock
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None

    def token(self) -> str:
        from botocore.model import ServiceId
        from botocore.signers import RequestSigner

        credentials = self._session.get_credentials()
        if credentials is None:
            raise RuntimeError("no AWS credentials to sign an ElastiCache IAM token with")
        signer = RequestSigner(
            ServiceId("elasticache"),
            self.region,
            "elasticache",
            "v4",
            credentials,
            self._session.get_component("event_emitter"),
        )
        request = {
            "method": "GET",
            "url": f"https://{self.cache_name}/?Action=connect&User={quote(self.user, safe='')}",
            "body": {},
            "headers": {},
            "context": {},
        }
        url = signer.generate_presigned_url(
            request, region_name=self.region, expires_in=TOKEN_SECONDS, operation_name="connect"
        )
        return str(url).removeprefix("https://")

    def get_credentials(self) -> tuple[str, str]:
        with self._lock:
            now = self._clock()
            if self._token is None or now - self._token[1] >= TOKEN_REUSE_SECONDS:
                self._token = (self.token(), now)
            return self.user, self._token[0]


def redis_client(
    url: str,
    *,
    auth: str = "none",
    username: str | None = None,
    cache_name: str | None = None,
    region: str | None = None,
) -> redis.Redis:
    """A client of the store: IAM tokens with ``auth="iam"``, short timeouts either way."""
    options: dict[str, Any] = {"socket_timeout": 2, "socket_connect_timeout": 2}
    if auth == "iam":
        if not (username and cache_name and region):
            raise ValueError("IAM authentication needs the user, the cache name and the region")
        options["credential_provider"] = ElastiCacheIAMProvider(username, cache_name, region)
    return redis.Redis.from_url(url, **options)
