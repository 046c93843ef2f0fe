"""Write godwit plugins in Python.

A plugin is a Python module, ``app.py``, that componentize-py bundles with a CPython
interpreter into a WebAssembly component (``sh build.sh``). It subclasses the base class
of one world — :class:`Backfill`, :class:`DataStep`, :class:`Validator` or
:class:`Notifier` — and exports it as ``WitWorld``::

    import godwit
    from godwit import Row, Spec, config

    class NormalizeEmail(godwit.Backfill):
        def describe(self) -> Spec:
            table = config.get_str("table", "users")
            return Spec(table, key="id", reads=["email"], writes=["email_normalized"],
                        filter="email_normalized IS NULL")

        def transform(self, rows: list[Row]) -> list[dict]:
            return [{"id": r.require("id"),
                     "email_normalized": (r.text("email") or "").strip().lower() or None}
                    for r in rows]

    WitWorld = godwit.export(NormalizeEmail)

Values are native Python (``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, plus
:class:`Json` and :class:`Timestamp`), rows are :class:`Row` dicts, settings come from
:mod:`godwit.config`, logging goes through :mod:`godwit.log`, and an exception raised by
``transform``, ``run_batch`` or ``notify`` is reported to godwit as the call's error.

Every call runs in a fresh instance: nothing a plugin keeps in a global survives to the
next call.
"""

from . import config, log
from .config import ConfigError
from .model import (
    BackfillSpec,
    BackupTaken,
    BatchProgress,
    BatchResult,
    Event,
    Finding,
    FindingsReported,
    LagUnknown,
    Migration,
    MigrationApplied,
    MigrationFailed,
    MigrationStarted,
    ReplicationLag,
    RolledBack,
    RunFinished,
    RunStarted,
    Severity,
    Spec,
    StepPaused,
    StepResumed,
    event_kind,
)
from .row import MissingColumn, Row
from .session import Session, SessionError
from .values import Json, Timestamp
from .worlds import Backfill, DataStep, Notifier, Validator, error_message, export

#: The version of the ``godwit:plugin`` WIT package this SDK targets.
API_VERSION = "0.2.0"

__version__ = "0.2.0"

__all__ = [
    "API_VERSION",
    "Backfill",
    "BackfillSpec",
    "BackupTaken",
    "BatchProgress",
    "BatchResult",
    "ConfigError",
    "DataStep",
    "Event",
    "Finding",
    "FindingsReported",
    "Json",
    "LagUnknown",
    "Migration",
    "MigrationApplied",
    "MigrationFailed",
    "MigrationStarted",
    "MissingColumn",
    "Notifier",
    "ReplicationLag",
    "RolledBack",
    "Row",
    "RunFinished",
    "RunStarted",
    "Session",
    "SessionError",
    "Severity",
    "Spec",
    "StepPaused",
    "StepResumed",
    "Timestamp",
    "Validator",
    "config",
    "error_message",
    "event_kind",
    "export",
    "log",
]
