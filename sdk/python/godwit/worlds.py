"""One base class per world, and :func:`export`, which adapts a plugin written against
them to the WIT protocol componentize-py expects.

A plugin subclasses the base class of its world, implements its methods with native
Python values, and exports it from its ``app.py``::

    class NormalizeEmail(godwit.Backfill):
        def describe(self) -> godwit.Spec: ...
        def transform(self, rows): ...

    WitWorld = godwit.export(NormalizeEmail)

An exception raised in ``transform``, ``run_batch`` or ``notify`` becomes the call's WIT
``Err``, carrying its type and message (``ValueError: bad email``), and its traceback is
written to stderr, which godwit shows tagged with the plugin's name. The other exports
(``describe``, ``check_migration``, ``check_database``) have no error channel: an exception
there traps, and godwit reports the trap and its stderr.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any, Iterable, List, Optional, Type

from componentize_py_types import Err
from wit_world.imports import host
from wit_world.imports import types as wit

from .model import BatchResult, Event, Finding, Migration, Spec, unwrap_event
from .row import Row, RowLike, row_to_wit
from .session import Session

__all__ = ["Backfill", "DataStep", "Validator", "Notifier", "export", "error_message"]


class Backfill:
    """A row-by-row data migration: the host reads batches by key, calls
    :meth:`transform` and writes what it returns set-based, so the plugin needs no SQL."""

    def describe(self) -> Spec:
        """What to read and write; called once before the first batch."""
        raise NotImplementedError(f"{type(self).__name__} must define describe()")

    def transform(self, rows: List[Row]) -> Iterable[RowLike]:
        """The new values of the ``writes`` columns for each row, each with its key
        columns, e.g. ``[{"id": 1, "email_normalized": "a@b.c"}]``. Raise to fail the batch."""
        raise NotImplementedError(f"{type(self).__name__} must define transform()")


class DataStep:
    """A data migration that runs its own queries through the session, batch by batch,
    inside the host's transaction; the host commits and checkpoints the returned cursor
    between batches."""

    def run_batch(self, session: Session, cursor: Optional[str], size: int) -> BatchResult:
        """Do at most ``size`` rows' worth of work from ``cursor`` (``None`` on the first
        call). Raise to roll the batch back and fail the step."""
        raise NotImplementedError(f"{type(self).__name__} must define run_batch()")


class Validator:
    """Checks that report findings like godwit's built-in lint rules."""

    def check_migration(self, migration: Migration) -> Iterable[Finding]:
        """Look at one migration before it is applied; no database access."""
        raise NotImplementedError(f"{type(self).__name__} must define check_migration()")

    def check_database(self, session: Session) -> Iterable[Finding]:
        """Look at the live database through a read-only session; none by default."""
        return []


class Notifier:
    """Hears about deploys, one event per call; an exception is reported but never fails
    a deploy."""

    def notify(self, event: Event, target: Optional[str]) -> None:
        """Deliver one event: a :class:`godwit.RunStarted`, :class:`godwit.RunFinished`...

        ``target`` names the database the event is about when ``godwit deploy --targets
        FILE`` deploys a fleet (as the targets file names it), and is ``None`` when godwit
        deploys one database."""
        raise NotImplementedError(f"{type(self).__name__} must define notify()")


def error_message(exc: BaseException) -> str:
    """``Type: message``, as a failed call reports an exception to godwit."""
    text = str(exc)
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def _err(exc: BaseException) -> Err:
    """The WIT ``Err`` for an exception, after writing its traceback to stderr."""
    if isinstance(exc, Err):
        return exc
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    sys.stderr.flush()
    return Err(error_message(exc))


class _Export:
    plugin: Type[Any]

    def __init__(self) -> None:
        self._instance: Any = None

    def _plugin(self) -> Any:
        if self._instance is None:
            self._instance = type(self).plugin()
        return self._instance


class _BackfillExport(_Export):
    def describe(self) -> wit.BackfillSpec:
        spec = self._plugin().describe()
        if not isinstance(spec, Spec):
            raise TypeError(f"describe() must return a godwit.Spec, not {type(spec).__name__}")
        return spec.to_wit()

    def transform(self, rows: List[List[wit.Column]]) -> List[List[wit.Column]]:
        try:
            out = self._plugin().transform([Row.from_wit(r) for r in rows])
            if out is None:
                raise TypeError("transform() returned None: return the list of rows to write")
            return [row_to_wit(r) for r in out]
        except Exception as e:
            raise _err(e) from None


class _DataStepExport(_Export):
    def run_batch(self, session: host.Session, cursor: Optional[str], size: int) -> wit.BatchResult:
        try:
            result = self._plugin().run_batch(Session(session), cursor, size)
            if not isinstance(result, BatchResult):
                raise TypeError(
                    f"run_batch() must return a godwit.BatchResult, not {type(result).__name__}"
                )
            return result.to_wit()
        except Exception as e:
            raise _err(e) from None


def _findings(found: Optional[Iterable[Finding]], method: str) -> List[wit.Finding]:
    out = []
    for f in found or []:
        if not isinstance(f, Finding):
            raise TypeError(f"{method}() must return godwit.Finding objects, not {type(f).__name__}")
        out.append(f.to_wit())
    return out


class _ValidatorExport(_Export):
    def check_migration(self, m: wit.Migration) -> List[wit.Finding]:
        return _findings(self._plugin().check_migration(Migration.from_wit(m)), "check_migration")

    def check_database(self, session: host.Session) -> List[wit.Finding]:
        return _findings(self._plugin().check_database(Session(session)), "check_database")


class _NotifierExport(_Export):
    def notify(self, e: wit.Event, target: Optional[str]) -> None:
        try:
            self._plugin().notify(unwrap_event(e), target)
        except Exception as exc:
            raise _err(exc) from None


_ADAPTERS = (
    (Backfill, _BackfillExport),
    (DataStep, _DataStepExport),
    (Validator, _ValidatorExport),
    (Notifier, _NotifierExport),
)


def export(plugin: Type[Any]) -> type:
    """The ``WitWorld`` class componentize-py wants, for a subclass of :class:`Backfill`,
    :class:`DataStep`, :class:`Validator` or :class:`Notifier`::

        WitWorld = godwit.export(MyPlugin)

    The plugin class is instantiated (with no arguments) once per component instance, and
    godwit uses a fresh instance for every call: keep no state between calls.
    """
    if not isinstance(plugin, type):
        raise TypeError(f"export() takes the plugin class, not {plugin!r}")
    for base, adapter in _ADAPTERS:
        if issubclass(plugin, base):
            return type("WitWorld", (adapter,), {"plugin": plugin, "__doc__": plugin.__doc__})
    raise TypeError(
        f"{plugin.__name__} must subclass godwit.Backfill, godwit.DataStep, godwit.Validator or godwit.Notifier"
    )
