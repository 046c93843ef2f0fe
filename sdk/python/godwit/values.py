"""Conversions between native Python values and godwit's typed SQL values.

Plugins work with plain Python values; the SDK turns them into the WIT ``value``
variant on the way out and back into Python on the way in:

==================  ===========================  ==========================
SQL (WIT ``value``)  Python you receive           Python you may send
==================  ===========================  ==========================
``null``             ``None``                     ``None``
``boolean``          ``bool``                     ``bool``
``int``              ``int``                      ``int`` (64-bit signed)
``float``            ``float``                    ``float``
``text``             ``str``                      ``str``, ``decimal.Decimal``
``bytes``            ``bytes``                    ``bytes``, ``bytearray``, ``memoryview``
``json``             :class:`Json` (a ``str``)    :class:`Json`
``timestamp``        :class:`Timestamp` (a ``str``)  :class:`Timestamp`, aware ``datetime``
==================  ===========================  ==========================

``numeric`` columns travel as text, so send a ``Decimal`` (or a ``str``) for them.
"""

from __future__ import annotations

import datetime
import decimal
import json
from typing import Any, Union

from wit_world.imports import types as wit

__all__ = ["Json", "Timestamp", "to_wit", "from_wit", "describe"]

_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1


class Json(str):
    """A JSON document, kept serialised; it *is* the document's text.

    ``Json('{"a": 1}')`` wraps text that already is JSON; ``Json.of(obj)`` serialises a
    Python object. ``load()`` parses it back.
    """

    @classmethod
    def of(cls, obj: Any) -> "Json":
        """Serialises ``obj`` with :func:`json.dumps` (compact, keys in insertion order)."""
        return cls(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))

    def load(self) -> Any:
        """The document parsed with :func:`json.loads`."""
        return json.loads(self)

    def __repr__(self) -> str:
        return f"Json({str.__repr__(self)})"


class Timestamp(str):
    """An RFC 3339 timestamp such as ``2026-11-21T08:00:00Z``; it *is* that text.

    ``Timestamp(dt)`` accepts a timezone-aware :class:`datetime.datetime` too.
    """

    def __new__(cls, value: Union[str, datetime.datetime]) -> "Timestamp":
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None:
                raise ValueError(
                    "a naive datetime has no timezone: use an aware one, e.g. datetime.now(timezone.utc)"
                )
            text = value.isoformat()
            if text.endswith("+00:00"):
                text = text[: -len("+00:00")] + "Z"
            return super().__new__(cls, text)
        return super().__new__(cls, value)

    def to_datetime(self) -> datetime.datetime:
        """The timestamp as an aware :class:`datetime.datetime`."""
        text = str(self)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        return datetime.datetime.fromisoformat(text)

    def __repr__(self) -> str:
        return f"Timestamp({str.__repr__(self)})"


_WIT_VALUES = (
    wit.Value_Null,
    wit.Value_Boolean,
    wit.Value_Int,
    wit.Value_Float,
    wit.Value_Text,
    wit.Value_Bytes,
    wit.Value_Json,
    wit.Value_Timestamp,
)


def to_wit(value: Any) -> wit.Value:
    """The WIT ``value`` for a native Python value; ``TypeError`` for anything else.

    Values that already are WIT values pass through unchanged.
    """
    if value is None:
        return wit.Value_Null()
    # Json and Timestamp are str subclasses, and bool an int subclass: test them first.
    if isinstance(value, Json):
        return wit.Value_Json(str(value))
    if isinstance(value, Timestamp):
        return wit.Value_Timestamp(str(value))
    if isinstance(value, bool):
        return wit.Value_Boolean(value)
    if isinstance(value, int):
        if not _I64_MIN <= value <= _I64_MAX:
            raise OverflowError(
                f"{value} does not fit in a 64-bit integer column: send it as str or Decimal (numeric travels as text)"
            )
        return wit.Value_Int(int(value))
    if isinstance(value, float):
        return wit.Value_Float(value)
    if isinstance(value, str):
        return wit.Value_Text(str(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return wit.Value_Bytes(bytes(value))
    if isinstance(value, datetime.datetime):
        return wit.Value_Timestamp(str(Timestamp(value)))
    if isinstance(value, decimal.Decimal):
        return wit.Value_Text(str(value))
    if isinstance(value, _WIT_VALUES):
        return value
    raise TypeError(
        f"cannot send a value of type {type(value).__name__} to godwit: use None, bool, int, float, str, bytes, "
        "godwit.Json (e.g. Json.of(obj)) or godwit.Timestamp"
    )


def from_wit(value: wit.Value) -> Any:
    """The native Python value for a WIT ``value``."""
    if isinstance(value, wit.Value_Null):
        return None
    if isinstance(value, wit.Value_Json):
        return Json(value.value)
    if isinstance(value, wit.Value_Timestamp):
        return Timestamp(value.value)
    if isinstance(value, wit.Value_Bytes):
        return bytes(value.value)
    if isinstance(value, _WIT_VALUES):
        return value.value
    raise TypeError(f"not a godwit value: {value!r}")


def describe(value: Any) -> str:
    """The SQL type a native value travels as, for error messages (``text``, ``int``...)."""
    if value is None:
        return "null"
    for kind, test in (
        ("json", Json),
        ("timestamp", Timestamp),
        ("boolean", bool),
        ("int", int),
        ("float", float),
        ("text", str),
        ("bytes", (bytes, bytearray, memoryview)),
    ):
        if isinstance(value, test):
            return kind
    return type(value).__name__
