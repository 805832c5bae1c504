"""The wire between the judge and a candidate host: framed JSON carrying plain data only.

A frame is a 4-byte big-endian length and a UTF-8 JSON document. Values are JSON's own types
plus a few tagged forms, so nothing on the wire names a Python type to construct:

    {"$t": [...]}          tuple            {"$b": "<base64>"}    bytes
    {"$s": [...]}          set              {"$m": {...}}         dict with str keys
    {"$d": [[k, v], ...]}  other dict       {"$h": 7}             an object living in the host
    {"$cb": 3}             a judge callable the host may call back
    {"$call": [target, attr, args, kwargs]}  a call the host evaluates (batches, nested arguments)

Decoding on the judge's side yields only built-in values (JSON parsing builds them), so no
method of a candidate's object ever runs in the judge. Why JSON and not pickle or RPyC: pickle
runs constructors named by the sender; RPyC's proxies forward dunder calls across the wire, which
is exactly what the judge must never do. This module is stdlib only and shared by both sides.
"""

from __future__ import annotations

import base64
import json
import socket
import struct
from typing import Any

MAX_FRAME_BYTES = 32 * 1024 * 1024
_HEADER = struct.Struct(">I")


class WireError(RuntimeError):
    """The other side broke the protocol (or went away); nothing it sent can be trusted."""


def send_frame(sock: socket.socket, message: Any) -> None:
    data = json.dumps(message, separators=(",", ":"), allow_nan=True).encode()
    if len(data) > MAX_FRAME_BYTES:
        raise WireError(f"a message of {len(data):,} bytes is over the {MAX_FRAME_BYTES:,} limit")
    sock.sendall(_HEADER.pack(len(data)) + data)


def recv_frame(sock: socket.socket) -> Any:
    """The next message, or ``None`` at a clean end of stream."""
    header = _recv_exactly(sock, _HEADER.size, allow_eof=True)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise WireError(f"a message of {length:,} bytes is over the {MAX_FRAME_BYTES:,} limit")
    body = _recv_exactly(sock, length, allow_eof=False)
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"a message is not valid JSON ({str(exc)[:100]})") from None


def _recv_exactly(sock: socket.socket, size: int, allow_eof: bool) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        try:
            chunk = sock.recv(min(size - len(chunks), 1 << 20))
        except OSError as exc:
            raise WireError(f"the connection failed ({exc})") from None
        if not chunk:
            if allow_eof and not chunks:
                return None
            raise WireError("the connection closed in the middle of a message")
        chunks += chunk
    return bytes(chunks)


def encode_plain(value: Any, depth: int = 0) -> Any:
    """Encode built-in data; anything else is a ``TypeError`` (the judge sends only data)."""
    if depth > 64:
        raise ValueError("data nested deeper than 64 levels")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, list):
        return [encode_plain(item, depth + 1) for item in value]
    if isinstance(value, tuple):
        return {"$t": [encode_plain(item, depth + 1) for item in value]}
    if isinstance(value, set | frozenset):
        return {"$s": [encode_plain(item, depth + 1) for item in value]}
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value):
            return {"$m": {key: encode_plain(item, depth + 1) for key, item in value.items()}}
        return {
            "$d": [
                [encode_plain(k, depth + 1), encode_plain(v, depth + 1)] for k, v in value.items()
            ]
        }
    encoder = getattr(value, "__faultline_wire__", None)
    if encoder is not None and type(value).__module__.startswith("faultline_harness"):
        return encoder(depth)
    raise TypeError(f"{type(value).__name__} cannot cross the wire; send plain data or a handle")


def decode_plain(value: Any, resolve: Any = None, depth: int = 0) -> Any:
    """Decode a value. ``resolve(tag, payload)`` turns handle-like tags into local objects;
    without it, a handle arrives as a :class:`Handle` marker."""
    if depth > 64:
        raise WireError("data nested deeper than 64 levels")
    if isinstance(value, list):
        return [decode_plain(item, resolve, depth + 1) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        raise WireError("a tagged value must have exactly one tag")
    ((tag, payload),) = value.items()
    if tag == "$t":
        return tuple(decode_plain(item, resolve, depth + 1) for item in _list(payload))
    if tag == "$s":
        return {decode_plain(item, resolve, depth + 1) for item in _list(payload)}
    if tag == "$b":
        if not isinstance(payload, str):
            raise WireError("bytes must be base64 text")
        try:
            return base64.b64decode(payload, validate=True)
        except ValueError:
            raise WireError("bytes are not valid base64") from None
    if tag == "$m":
        if not isinstance(payload, dict):
            raise WireError("a mapping must be a JSON object")
        return {key: decode_plain(item, resolve, depth + 1) for key, item in payload.items()}
    if tag == "$d":
        pairs = [_list(pair) for pair in _list(payload)]
        if any(len(pair) != 2 for pair in pairs):
            raise WireError("a dict entry must be a [key, value] pair")
        try:
            return {
                decode_plain(k, resolve, depth + 1): decode_plain(v, resolve, depth + 1)
                for k, v in pairs
            }
        except TypeError:
            raise WireError("a dict key is not hashable") from None
    if resolve is not None:
        return resolve(tag, payload, depth)
    raise WireError(f"unknown tag {tag[:20]!r}")


def _list(payload: Any) -> list:
    if not isinstance(payload, list):
        raise WireError("a tagged sequence must be a JSON array")
    return payload
