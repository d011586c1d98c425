"""Session streams: every frame the backend sends to a session gets the session's next
``seq`` and is kept for a while, so a client that reconnects gets what it missed.

A stream keeps its last ``max_messages`` frames, each for at most ``max_age_seconds``
(whichever drops it first: memory stays bounded both ways), and its counter for
``counter_ttl_seconds`` after the last frame, so a client back after a long absence is told
to resync rather than numbered from 1 again. Frames are kept as first encoded: a resume and
a repeated request replay the same bytes.

- :class:`MemoryStream`: one process (a lock per store).
- :class:`RedisStream`: one Redis (or Valkey) shared by every instance of the backend; each
  append is one Lua script (INCRBY, ZADD, trim by count and age, PEXPIRE, EXPIRE), so two
  instances never hand out the same seq and a frame is kept the moment it is numbered.
  Layout for a session ``S`` (``prefix`` defaults to ``ws-bridge:stream:``; the braces keep
  both keys in one Redis Cluster slot):

  - ``<prefix>{S}:seq``: the last seq handed out (a string of digits);
  - ``<prefix>{S}:frames``: a sorted set, score the seq, member ``<epoch ms>|<frame>``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ws_bridge_backend.frames import MAX_STREAM_FRAME_BYTES, SEQ_RESERVE_BYTES, numbered

__all__ = [
    "MemoryStream",
    "RedisStream",
    "SessionStoreError",
    "StreamRead",
    "StreamSettings",
    "StreamStore",
]


class SessionStoreError(Exception):
    """The session store could not be asked (Redis unreachable, say): the call is refused
    as a fault of the service, never answered from a guess."""


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """How much of each stream is kept (docs/design.md, "The backend's part").

    ``max_messages`` (N) and ``max_age_seconds`` (T): a frame is kept while it is one of the
    last N of its stream and younger than T. A client whose gap is older gets
    ``resync_required``. ``counter_ttl_seconds``: how long a quiet stream's counter is kept.
    """

    max_messages: int = 1000
    max_age_seconds: float = 300.0
    counter_ttl_seconds: int = 86_400

    def __post_init__(self) -> None:
        if self.max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        if not self.max_age_seconds > 0:
            raise ValueError("max_age_seconds must be greater than 0")
        if self.counter_ttl_seconds < self.max_age_seconds:
            raise ValueError("counter_ttl_seconds must be at least max_age_seconds")


@dataclass(frozen=True, slots=True)
class StreamRead:
    """What a resume from ``after`` finds: the stream's ``head`` (its last seq); ``frames``
    after ``after`` in order, as first sent (None when the buffer no longer holds
    ``after + 1``, or ``after`` is beyond the head: the client must resync); ``more`` when
    further frames did not fit the budget."""

    head: int
    frames: list[str] | None
    more: bool = False


class StreamStore(Protocol):
    settings: StreamSettings

    def append(self, session_id: str, bodies: Sequence[str]) -> list[str]:
        """Number ``bodies`` (encoded JSON objects, without ``seq``) with the session's next
        seqs, in order and without a gap, keep them; the frames as numbered."""
        ...

    def read(self, session_id: str, after: int, budget: int) -> StreamRead:
        """The frames after ``after``, as many as fit ``budget`` bytes joined by commas
        (always at least one)."""
        ...


def _check_bodies(bodies: Sequence[str]) -> None:
    if not bodies:
        raise ValueError("nothing to append")
    for body in bodies:
        if not (body.startswith("{") and body.endswith("}")):
            raise ValueError("a stream message is an encoded JSON object")
        if len(body.encode()) + SEQ_RESERVE_BYTES > MAX_STREAM_FRAME_BYTES:
            raise ValueError("a stream frame is at most MAX_STREAM_FRAME_BYTES: chunk it")


class _Filler:
    """Collects frames in seq order from ``after + 1``, contiguous, up to ``head``, within
    ``budget`` bytes joined by commas (the first frame whatever its size: each fits)."""

    def __init__(self, after: int, head: int, budget: int) -> None:
        self.frames: list[str] = []
        self.last = after
        self._head = head
        self._budget = budget
        self._size = 0

    def offer(self, held: Sequence[tuple[int, str]]) -> bool:
        """Take what fits of ``held`` (seq, frame); False once done (the head reached, the
        budget full, or a gap: frames trimmed meanwhile, left for the next resume)."""
        for seq, frame in held:
            if seq <= self.last:
                continue
            if seq > self._head or seq != self.last + 1:
                return False
            cost = len(frame.encode()) + (1 if self.frames else 0)
            if self.frames and self._size + cost > self._budget:
                return False
            self.frames.append(frame)
            self._size += cost
            self.last = seq
        return self.last < self._head

    def result(self) -> StreamRead:
        return StreamRead(self._head, self.frames, more=self.last < self._head)


@dataclass
class _Stream:
    seq: int = 0
    touched: float = 0.0
    frames: deque[tuple[int, float, str]] = field(default_factory=deque)


class MemoryStream:
    """The streams of this process; thread-safe."""

    def __init__(
        self, settings: StreamSettings | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings or StreamSettings()
        self._clock = clock
        self._lock = threading.Lock()
        self._streams: dict[str, _Stream] = {}
        self._next_purge = 0.0

    def append(self, session_id: str, bodies: Sequence[str]) -> list[str]:
        _check_bodies(bodies)
        now = self._clock()
        with self._lock:
            if now >= self._next_purge:
                self._purge(now)
            stream = self._streams.setdefault(session_id, _Stream())
            out: list[str] = []
            for body in bodies:
                stream.seq += 1
                frame = numbered(body, stream.seq)
                stream.frames.append((stream.seq, now, frame))
                out.append(frame)
            stream.touched = now
            self._trim(stream, now)
            return out

    def read(self, session_id: str, after: int, budget: int) -> StreamRead:
        now = self._clock()
        with self._lock:
            stream = self._streams.get(session_id)
            if stream is None:
                return StreamRead(0, [] if after == 0 else None)
            self._trim(stream, now)
            head = stream.seq
            if after >= head:
                return StreamRead(head, [] if after == head else None)
            if not stream.frames or stream.frames[0][0] > after + 1:
                return StreamRead(head, None)
            held = [(seq, frame) for seq, _, frame in stream.frames if seq > after]
        filler = _Filler(after, head, budget)
        filler.offer(held)
        return filler.result()

    def _trim(self, stream: _Stream, now: float) -> None:
        frames = stream.frames
        cutoff = now - self.settings.max_age_seconds
        while frames and (len(frames) > self.settings.max_messages or frames[0][1] < cutoff):
            frames.popleft()

    def _purge(self, now: float) -> None:
        """Forget the streams quiet for longer than their counter is kept; once a minute."""
        cutoff = now - self.settings.counter_ttl_seconds
        for session_id in [k for k, s in self._streams.items() if s.touched < cutoff]:
            del self._streams[session_id]
        self._next_purge = now + 60.0


# Drop the frames beyond the last N, then those older than the cutoff, oldest first (32 at
# a time): members start with their epoch milliseconds.
_TRIM = """
local function trim(key, now, max_messages, max_age)
  redis.call('ZREMRANGEBYRANK', key, 0, -(max_messages + 1))
  local cutoff = now - max_age
  while true do
    local oldest = redis.call('ZRANGE', key, 0, 31)
    local expired = 0
    for _, member in ipairs(oldest) do
      local at = tonumber(string.match(member, '^(%d+)|'))
      if at == nil or at >= cutoff then break end
      expired = expired + 1
    end
    if expired > 0 then redis.call('ZREMRANGEBYRANK', key, 0, expired - 1) end
    if expired < #oldest or #oldest == 0 then return end
  end
end
"""

# KEYS: the counter, the frames. ARGV: now (ms), N, T (ms), counter TTL (s), the bodies.
# Each body becomes {"seq":n,...} exactly as frames.numbered writes it.
_APPEND = (
    _TRIM
    + """
local now, max_messages, max_age = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local count = #ARGV - 4
local last = redis.call('INCRBY', KEYS[1], count)
local frames = {}
for i = 1, count do
  local seq = last - count + i
  local body = ARGV[4 + i]
  local frame
  if body == '{}' then
    frame = string.format('{"seq":%d}', seq)
  else
    frame = string.format('{"seq":%d,', seq) .. string.sub(body, 2)
  end
  redis.call('ZADD', KEYS[2], seq, ARGV[1] .. '|' .. frame)
  frames[i] = frame
end
trim(KEYS[2], now, max_messages, max_age)
redis.call('PEXPIRE', KEYS[2], max_age)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return frames
"""
)

# KEYS: the counter, the frames. ARGV: now (ms), N, T (ms), after, page size.
# Returns {head, oldest seq held (0: none), {member, score, ...}}.
_READ = (
    _TRIM
    + """
trim(KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
local head = tonumber(redis.call('GET', KEYS[1]) or '0')
local after = tonumber(ARGV[4])
if after >= head then return {head, 0, {}} end
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #first == 0 then return {head, 0, {}} end
local oldest = tonumber(first[2])
if oldest > after + 1 then return {head, oldest, {}} end
return {head, oldest, redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[4], head,
                                 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[5]))}
"""
)


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class RedisStream:
    """Streams in Redis, shared by every instance of the backend. ``client``: a
    ``redis.Redis`` (its own timeouts apply; a few seconds at most is wise). A Redis error
    raises :class:`SessionStoreError`."""

    def __init__(
        self,
        client: Any,
        settings: StreamSettings | None = None,
        *,
        prefix: str = "ws-bridge:stream:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        import redis  # the redis extra

        self.settings = settings or StreamSettings()
        self._client = client
        self._prefix = prefix
        self._clock = clock
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._append = client.register_script(_APPEND)
        self._read = client.register_script(_READ)

    def keys(self, session_id: str) -> list[str]:
        """The session's counter and frames keys."""
        base = f"{self._prefix}{{{session_id}}}"
        return [f"{base}:seq", f"{base}:frames"]

    def _limits(self) -> list[int]:
        settings = self.settings
        now = int(self._clock() * 1000)
        return [now, settings.max_messages, int(settings.max_age_seconds * 1000)]

    def append(self, session_id: str, bodies: Sequence[str]) -> list[str]:
        _check_bodies(bodies)
        args = [*self._limits(), self.settings.counter_ttl_seconds, *bodies]
        try:
            frames = self._append(keys=self.keys(session_id), args=args)
        except self._errors as exc:
            raise SessionStoreError(f"redis: {type(exc).__name__}") from exc
        return [_text(frame) for frame in frames]

    def read(self, session_id: str, after: int, budget: int) -> StreamRead:
        filler: _Filler | None = None
        cursor, page = after, 128
        while True:
            try:
                head, oldest, members = self._read(
                    keys=self.keys(session_id), args=[*self._limits(), cursor, page]
                )
            except self._errors as exc:
                raise SessionStoreError(f"redis: {type(exc).__name__}") from exc
            if filler is None:  # the first page: the head as read now bounds the answer
                head = int(head)
                if after >= head:
                    return StreamRead(head, [] if after == head else None)
                if int(oldest) == 0 or int(oldest) > after + 1:
                    return StreamRead(head, None)
                filler = _Filler(after, head, budget)
            held = [
                (int(float(_text(members[i + 1]))), _text(members[i]).split("|", 1)[1])
                for i in range(0, len(members), 2)
            ]
            if not filler.offer(held) or len(held) < page:
                return filler.result()
            cursor, page = filler.last, min(page * 2, 1024)
