"""The connection the host lends to one call, inside its transaction."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

from componentize_py_types import Err
from wit_world.imports import host

from .row import Row
from .values import to_wit

__all__ = ["Session", "SessionError"]


class SessionError(Exception):
    """The host refused or failed a statement; the message is the host's.

    Left uncaught in ``run_batch``, it becomes the call's error, and godwit rolls the batch
    back and shows it.
    """


def _params(params: Sequence[Any]) -> List[Any]:
    if isinstance(params, (str, bytes)):
        raise TypeError("params must be a sequence of values, e.g. (42,) or [email]")
    out = []
    for i, p in enumerate(params, start=1):
        try:
            out.append(to_wit(p))
        except (TypeError, OverflowError) as e:
            raise type(e)(f"parameter ${i}: {e}") from None
    return out


class Session:
    """A connection lent for one call: SQL with ``$1``-style parameters, native values in
    and :class:`Row` objects out. Plugins never commit, roll back or connect themselves;
    every statement is checked against the plugin's grants and fails closed.
    """

    def __init__(self, raw: host.Session) -> None:
        self._raw = raw

    @property
    def raw(self) -> host.Session:
        """The generated binding's session, for the WIT-level API."""
        return self._raw

    def query(self, sql: str, params: Sequence[Any] = ()) -> List[Row]:
        """Runs a read-only statement; ``params`` fill ``$1``, ``$2``...

        Raises :class:`SessionError` with the host's message when it refuses or fails.
        """
        try:
            rows = self._raw.query(sql, _params(params))
        except Err as e:
            raise SessionError(str(e.value)) from None
        return [Row.from_wit(r) for r in rows]

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Optional[Row]:
        """The first row :meth:`query` returns, or ``None``."""
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Runs a statement and returns the rows it affected; refused unless the plugin was
        granted writes. Raises :class:`SessionError` like :meth:`query`."""
        try:
            return int(self._raw.execute(sql, _params(params)))
        except Err as e:
            raise SessionError(str(e.value)) from None
