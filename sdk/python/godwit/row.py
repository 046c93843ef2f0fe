"""Rows: a ``dict`` of column name to native value, with typed getters."""

from __future__ import annotations

import builtins
from typing import Any, Iterable, List, Mapping, Optional, Tuple, Union

from wit_world.imports import types as wit

from .values import Json, Timestamp, describe, from_wit, to_wit

__all__ = ["Row", "MissingColumn", "RowLike", "row_to_wit"]


class MissingColumn(LookupError):
    """A row lacks a column the plugin needs (see :meth:`Row.require`)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "missing column"


class Row(dict):
    """One row, as the host read it: column name -> native value (see :mod:`godwit.values`).

    It is a plain ``dict`` (``row["email"]``, ``row.get("email")``, ``"email" in row``)
    with getters that check the type: each returns ``None`` when the column is absent
    or SQL ``NULL``, and raises ``TypeError`` when it holds another type.
    """

    @classmethod
    def from_wit(cls, columns: Iterable[wit.Column]) -> "Row":
        """The row for a WIT ``row`` (a list of columns)."""
        return cls((c.name, from_wit(c.value)) for c in columns)

    def to_wit(self) -> List[wit.Column]:
        """The WIT ``row``: one column per item, in order."""
        return [_column(k, v) for k, v in self.items()]

    def require(self, name: str) -> Any:
        """The column's value (which may be ``None`` for ``NULL``), or :class:`MissingColumn`
        when the host sent no such column."""
        try:
            return self[name]
        except KeyError:
            raise MissingColumn(f"the host sent a row without column `{name}`") from None

    def _typed(self, name: str, kinds: Union[type, Tuple[type, ...]], what: str) -> Any:
        value = self.get(name)
        if value is None:
            return None
        if isinstance(value, builtins.bool) and builtins.bool not in (
            kinds if isinstance(kinds, tuple) else (kinds,)
        ):
            raise TypeError(f"column `{name}` is boolean, not {what}")
        if not isinstance(value, kinds):
            raise TypeError(f"column `{name}` is {describe(value)}, not {what}")
        return value

    def text(self, name: str) -> Optional[str]:
        """The column's text (``text``, ``json`` and ``timestamp`` columns all have one)."""
        return self._typed(name, builtins.str, "text")

    def int(self, name: str) -> Optional[builtins.int]:
        """The column's integer."""
        return self._typed(name, builtins.int, "an integer")

    def float(self, name: str) -> Optional[builtins.float]:
        """The column's number as a float (an ``int`` column is widened)."""
        value = self._typed(name, (builtins.float, builtins.int), "a number")
        return None if value is None else builtins.float(value)

    def bool(self, name: str) -> Optional[builtins.bool]:
        """The column's boolean."""
        return self._typed(name, builtins.bool, "boolean")

    def bytes(self, name: str) -> Optional[builtins.bytes]:
        """The column's bytes."""
        return self._typed(name, builtins.bytes, "bytes")

    def json(self, name: str) -> Any:
        """The column's JSON document, parsed (a ``json`` or ``text`` column); ``None`` for
        ``NULL``."""
        value = self._typed(name, builtins.str, "json")
        return None if value is None else Json(value).load()

    def timestamp(self, name: str) -> Optional[Timestamp]:
        """The column's timestamp (a ``timestamp`` or RFC 3339 ``text`` column); call
        ``.to_datetime()`` on it for a :class:`datetime.datetime`."""
        value = self._typed(name, builtins.str, "a timestamp")
        return None if value is None else Timestamp(value)


#: What ``transform`` may return for each row: a ``Row``, any mapping, or (name, value) pairs.
RowLike = Union[Mapping[str, Any], Iterable[Tuple[str, Any]]]


def row_to_wit(row: RowLike) -> List[wit.Column]:
    """The WIT ``row`` for a mapping (or an iterable of ``(name, value)`` pairs)."""
    if isinstance(row, Row):
        return row.to_wit()
    if isinstance(row, Mapping):
        items: Iterable[Tuple[str, Any]] = row.items()
    elif isinstance(row, (str, builtins.bytes)):
        raise TypeError(f"a row must be a dict of column -> value, not {type(row).__name__}")
    else:
        items = row
    columns = []
    for item in items:
        if isinstance(item, wit.Column):
            columns.append(item)
            continue
        name, value = item
        columns.append(_column(name, value))
    return columns


def _column(name: Any, value: Any) -> wit.Column:
    try:
        return wit.Column(name=str(name), value=to_wit(value))
    except (TypeError, OverflowError) as e:
        raise type(e)(f"column `{name}`: {e}") from None
