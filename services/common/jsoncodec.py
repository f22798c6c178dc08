"""kombu's `json` serializer (RPC requests and replies, events) through orjson.

A list load sends chunks of thousands of rows from uploads to students and
from students to users, and each service publishes its batch events: kombu's
own JSON (the standard library's encoder with a `default` hook, its decoder
with an `object_hook` on every object) was a tenth of those services' CPU.
`install()` registers an encoder and decoder under the same name and content
type (`application/json`, utf-8), so the messages stay JSON that any kombu
client reads, and what they carry is the same:

- encoding: orjson for the common values (str, int, float, bool, None, list,
  tuple, dict with str keys); date, time and datetime, Decimal, bytes and
  objects with `__json__` go through kombu's own `default`, which wraps them
  the way kombu does (`{"__type__": ..., "__value__": ...}`). Anything orjson
  refuses (non-str keys, integers past 64 bits, lone surrogates, other types)
  is encoded by kombu's encoder itself, which answers or fails as before.
  Unlike the standard encoder, non-ASCII text is written as UTF-8 and without
  spaces: the same JSON value. One value differs: a float NaN or infinity
  becomes null (the standard encoder writes the non-JSON `NaN`). The services
  send none: what they pass on has been checked (fields.py refuses non-finite
  numbers) or comes from their databases. The gateway, where requests come in
  as JSON that may hold them, sends its calls with kombu's own encoder
  (gateway/bus.py), and this decoder reads them as before.
- decoding: orjson, unless the text might hold a kombu type wrapper (the key
  `__type__`, or an escape of the characters such a key is made of) or an
  integer orjson would read as a float (19 digits or more in a row: past 64
  bits), or orjson refuses it (NaN, lone surrogates): then kombu's own decoder,
  as before.

Every service installs it when it imports services/common/rpc.py (so does the
gateway, for the replies it reads); a process without it reads and writes the
same messages.
"""

import orjson
from kombu import serialization
from kombu.utils import json as kombu_json

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_default = kombu_json.JSONEncoder().default

# A wrapper's key, or an escape of one of its characters ("_", "a"-"z": U+005F
# to U+007A); the standard encoder escapes only control and non-ASCII characters.
_WRAPPER_MARKS = (b"__type__", b"\\u005", b"\\u006", b"\\u007")
# Digits as "0": a run of LONG_DIGITS zeros then marks a long number (orjson reads
# an integer past 64 bits as a float). One C pass over the message.
_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19


def dumps(obj):
    try:
        return orjson.dumps(obj, default=_default, option=_OPTIONS)
    except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
        return kombu_json.dumps(obj)


def loads(data):
    if isinstance(data, str):
        raw = data.encode("utf-8", "surrogatepass")
    elif isinstance(data, (memoryview, bytearray)):
        raw = bytes(data)
    else:
        raw = data
    if any(mark in raw for mark in _WRAPPER_MARKS) or _LONG_DIGITS in raw.translate(_DIGITS):
        return kombu_json.loads(data)
    try:
        return orjson.loads(raw)
    except ValueError:  # orjson.JSONDecodeError is a ValueError
        return kombu_json.loads(data)


def install():
    """Register as kombu's `json` (idempotent)."""
    serialization.registry.register(
        "json", dumps, loads, content_type="application/json", content_encoding="utf-8"
    )
