"""The client's message as the handler reads it: the event's body (text or a base64 binary
frame) decoded, bounded to 128 KB and parsed as a strict JSON object, or the error code that
says why it is not one; and the request's ``id`` that the handler's error replies echo."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from ws_bridge import json_codec
from ws_bridge.outcomes import ErrorCode
from ws_bridge.settings import MAX_MESSAGE_BYTES
from ws_bridge_backend.contract import ID_PATTERN

__all__ = ["REQUEST_ID", "message_id", "parse_message"]

# A request id of the session protocol (docs/design.md, "Request ids"): the contract's.
REQUEST_ID = re.compile(ID_PATTERN)


class _Refused(Exception):
    """Internal signal carrying an error code; never leaves this module."""

    def __init__(self, code: ErrorCode) -> None:
        super().__init__(code)
        self.code: ErrorCode = code


def _decode_body(event: Mapping[str, Any]) -> tuple[str, bytes]:
    """The message's text and its UTF-8 form."""
    body = event.get("body")
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise _Refused("invalid_json")
    if event.get("isBase64Encoded") is True:  # binary frames arrive base64-encoded
        if len(body) > (MAX_MESSAGE_BYTES + 2) // 3 * 4 + 4:
            raise _Refused("message_too_large")
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise _Refused("invalid_json") from None
        if len(raw) > MAX_MESSAGE_BYTES:
            raise _Refused("message_too_large")
        try:
            return raw.decode("utf-8"), raw
        except UnicodeDecodeError:
            raise _Refused("invalid_json") from None
    if len(body) > MAX_MESSAGE_BYTES:
        raise _Refused("message_too_large")
    try:
        raw = body.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: not text any client could send
        raise _Refused("invalid_json") from None
    if len(raw) > MAX_MESSAGE_BYTES:
        raise _Refused("message_too_large")
    return body, raw


def parse_message(event: Mapping[str, Any]) -> dict[str, Any] | ErrorCode:
    """The client's JSON object, or the error code that explains why there is none.

    Strict JSON but for one check left to the caller, which encodes the object before it
    uses it (:func:`_encoded`): a string may hold a lone surrogate escape (``"\\ud800"``),
    which has no UTF-8 form. ``json_codec.decode_to_encode`` says why."""
    try:
        text, raw = _decode_body(event)
    except _Refused as refused:
        return refused.code
    try:
        value = json_codec.decode_to_encode(text, raw)
    except ValueError:
        return "invalid_json"
    if not isinstance(value, dict):
        return "not_an_object"
    return value


def message_id(parsed: Mapping[str, Any] | str) -> str | None:
    """The ``id`` of a parsed client message when it is a valid request id; None for one
    without (a ping), with another value, or no message at all (an error code)."""
    if isinstance(parsed, str):
        return None
    value = parsed.get("id")
    if isinstance(value, str) and REQUEST_ID.fullmatch(value) is not None:
        return value
    return None
