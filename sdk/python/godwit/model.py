"""The records plugins build and receive: backfill specs, batch results, findings,
migrations and events."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Union

from wit_world.imports import types as wit

__all__ = [
    "Spec",
    "BatchResult",
    "Severity",
    "Finding",
    "Migration",
    "Event",
    "RunStarted",
    "RunFinished",
    "MigrationStarted",
    "MigrationApplied",
    "MigrationFailed",
    "BatchProgress",
    "FindingsReported",
    "BackupTaken",
    "RolledBack",
    "event_kind",
    "unwrap_event",
]


def _names(columns: Union[str, Sequence[str]]) -> List[str]:
    if isinstance(columns, str):
        return [c.strip() for c in columns.split(",") if c.strip()]
    return [str(c) for c in columns]


@dataclass
class Spec:
    """What a backfill works on. The host pages ``table`` by ``key``, hands ``transform``
    the ``reads`` columns (and the key) of the rows matching ``filter``, and writes back
    the ``writes`` columns in one set-based statement per batch.

    ``reads`` and ``writes`` take a list of names or one comma-separated string.
    """

    table: str
    key: str
    reads: Union[str, Sequence[str]] = field(default_factory=list)
    writes: Union[str, Sequence[str]] = field(default_factory=list)
    #: A SQL boolean expression selecting the rows still to do, e.g. ``x IS NULL``.
    filter: Optional[str] = None
    #: Rows per batch the plugin suggests; the host may use fewer.
    batch_size_hint: int = 1000

    def to_wit(self) -> wit.BackfillSpec:
        """The WIT ``backfill-spec``."""
        return wit.BackfillSpec(
            table=str(self.table),
            key=str(self.key),
            reads=_names(self.reads),
            writes=_names(self.writes),
            filter=self.filter,
            batch_size_hint=int(self.batch_size_hint),
        )


#: The Rust SDK's name for :class:`Spec`.
BackfillSpec = Spec


@dataclass
class BatchResult:
    """What one ``run_batch`` call did."""

    #: Where to resume; the host checkpoints it after committing. An ``int`` is turned
    #: into text.
    next_cursor: Optional[Union[str, int]]
    #: Rows the batch touched.
    rows: int
    #: No more batches to run.
    done: bool

    def to_wit(self) -> wit.BatchResult:
        """The WIT ``batch-result``."""
        return wit.BatchResult(
            next_cursor=None if self.next_cursor is None else str(self.next_cursor),
            rows=int(self.rows),
            done=bool(self.done),
        )


class Severity(str, enum.Enum):
    """How much a finding matters; ``ERROR`` blocks a deploy."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @classmethod
    def parse(cls, text: Union[str, "Severity"]) -> "Severity":
        """``info``, ``warning`` (or ``warn``) or ``error``, ignoring case."""
        if isinstance(text, Severity):
            return text
        name = str(text).strip().lower()
        if name == "warn":
            name = "warning"
        try:
            return cls(name)
        except ValueError:
            raise ValueError(f"{text!r} is not a severity: use info, warning or error") from None

    def to_wit(self) -> wit.Severity:
        """The WIT ``severity``."""
        return {
            Severity.INFO: wit.Severity.INFO,
            Severity.WARNING: wit.Severity.WARNING,
            Severity.ERROR: wit.Severity.ERROR,
        }[self]


@dataclass
class Finding:
    """What a check has to say, in the same shape as godwit's built-in lint rules.

    >>> Finding.error("require-down", "migration 1_x cannot be reverted", location="1_x/down.sql")
    """

    #: Kebab-case rule name, e.g. ``require-table-comment``.
    rule: str
    severity: Union[Severity, str]
    #: Names the table and the risk, in a sentence.
    message: str
    #: Where it points, e.g. ``20261121090000_create_users/up.sql``.
    location: Optional[str] = None
    #: The safe pattern, in a sentence or two.
    help: Optional[str] = None

    @classmethod
    def error(cls, rule: str, message: str, *, location: Optional[str] = None,
              help: Optional[str] = None) -> "Finding":
        """A finding that blocks the deploy."""
        return cls(rule, Severity.ERROR, message, location, help)

    @classmethod
    def warning(cls, rule: str, message: str, *, location: Optional[str] = None,
                help: Optional[str] = None) -> "Finding":
        """A finding shown as a warning."""
        return cls(rule, Severity.WARNING, message, location, help)

    @classmethod
    def info(cls, rule: str, message: str, *, location: Optional[str] = None,
             help: Optional[str] = None) -> "Finding":
        """A finding shown for information."""
        return cls(rule, Severity.INFO, message, location, help)

    def to_wit(self) -> wit.Finding:
        """The WIT ``finding``."""
        return wit.Finding(
            rule=str(self.rule),
            severity=Severity.parse(self.severity).to_wit(),
            message=str(self.message),
            location=None if self.location is None else str(self.location),
            help=None if self.help is None else str(self.help),
        )


@dataclass
class Migration:
    """A migration as it is on disk, before it is applied."""

    #: The version, e.g. ``20261121090000``.
    version: str
    #: The human part of the name, e.g. ``create_users``.
    name: str
    up_sql: str
    #: ``None`` when the migration has no down.sql.
    down_sql: Optional[str]

    @property
    def file(self) -> str:
        """``VERSION_NAME``, as godwit names the migration on disk."""
        return f"{self.version}_{self.name}"

    @classmethod
    def from_wit(cls, m: wit.Migration) -> "Migration":
        """The migration for a WIT ``migration``."""
        return cls(m.version, m.name, m.up_sql, m.down_sql)


# Events are handed to notifiers as the generated records themselves (dataclasses with
# snake_case fields), unwrapped from the `event` variant, so that `match` works on them.
RunStarted = wit.RunStarted
RunFinished = wit.RunFinished
MigrationStarted = wit.MigrationStarted
MigrationApplied = wit.MigrationApplied
MigrationFailed = wit.MigrationFailed
BatchProgress = wit.BatchProgress
FindingsReported = wit.FindingsReported
BackupTaken = wit.BackupTaken
RolledBack = wit.RolledBack
StepPaused = wit.StepPaused
StepResumed = wit.StepResumed
# A pause's `reason` stays the WIT variant: `reason.value` is a ReplicationLag, a
# LagUnknown, or the health query's text.
ReplicationLag = wit.ReplicationLag
LagUnknown = wit.LagUnknown

#: Any event a notifier hears about.
Event = Union[
    RunStarted,
    RunFinished,
    MigrationStarted,
    MigrationApplied,
    MigrationFailed,
    BatchProgress,
    FindingsReported,
    BackupTaken,
    RolledBack,
    StepPaused,
    StepResumed,
]

_KINDS = {
    wit.RunStarted: "run-started",
    wit.RunFinished: "run-finished",
    wit.MigrationStarted: "migration-started",
    wit.MigrationApplied: "migration-applied",
    wit.MigrationFailed: "migration-failed",
    wit.BatchProgress: "batch-progress",
    wit.FindingsReported: "findings-reported",
    wit.BackupTaken: "backup-taken",
    wit.RolledBack: "rolled-back",
    wit.StepPaused: "step-paused",
    wit.StepResumed: "step-resumed",
}


def event_kind(event: Event) -> str:
    """The event's WIT name, e.g. ``run-started``."""
    return _KINDS.get(type(event), type(event).__name__)


def unwrap_event(e: wit.Event) -> Event:
    """The record inside a WIT ``event`` variant."""
    return e.value
