"""Test fixture for the `data-step` world, like the Rust tests/guests/hostile-step: `mode`
picks between two refusals the host must produce and one real step.

- `ungranted-table`: query the table named by `table2` (or `table`); the session's refusal
  becomes the call's Err ("Denied: cannot query TABLE: <the host's error>"), and a query
  that got through is an Err too ("LetThrough: ...").
- `write-read-only`: UPDATE `table` (default `items`), which a read-only grant refuses
  ("Denied: cannot update TABLE: <the host's error>").
- `counter` (default): `UPDATE items SET n = n + 1`, batch by batch, by id.
"""

import godwit
from godwit import BatchResult, Session, config


class Denied(Exception):
    """The host refused what the mode tried; the message carries the host's error."""


class LetThrough(Exception):
    """The host allowed what it should have refused."""


def counter(session: Session, cursor, size: int) -> BatchResult:
    after = -(2**63) if cursor is None else int(cursor)
    rows = session.query("SELECT id FROM items WHERE id > $1 ORDER BY id LIMIT $2", [after, size])
    ids = [row.int("id") for row in rows]
    if any(i is None for i in ids):
        raise TypeError("items.id must be an integer")
    touched = 0
    if ids:
        placeholders = ", ".join(f"${i}" for i in range(1, len(ids) + 1))
        touched = session.execute(f"UPDATE items SET n = n + 1 WHERE id IN ({placeholders})", ids)
    return BatchResult(next_cursor=ids[-1] if ids else None, rows=touched, done=len(ids) < size)


class HostileStep(godwit.DataStep):
    def run_batch(self, session: Session, cursor, size: int) -> BatchResult:
        mode = config.get_str("mode", "counter")
        if mode == "ungranted-table":
            table = config.get_str("table2") or config.require_str("table")
            try:
                rows = session.query(f"SELECT * FROM {table}")
            except godwit.SessionError as e:
                raise Denied(f"cannot query {table}: {e}") from None
            raise LetThrough(f"queried {table}: {len(rows)} rows, the host let it through")
        if mode == "write-read-only":
            table = config.get_str("table", "items")
            try:
                n = session.execute(f"UPDATE {table} SET n = n + 1")
            except godwit.SessionError as e:
                raise Denied(f"cannot update {table}: {e}") from None
            raise LetThrough(f"updated {n} rows of {table}, the host let it through")
        if mode == "counter":
            return counter(session, cursor, size)
        raise ValueError(f"unknown mode {mode!r}")


WitWorld = godwit.export(HostileStep)
