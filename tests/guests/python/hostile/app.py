"""Test fixture for the `backfill` world that misbehaves on request, like the Rust
tests/guests/hostile: the `mode` setting picks what `transform` does. A mode the sandbox
denies raises `Denied` naming what was denied (the call's Err reads
"Denied: cannot read /etc/passwd: ..."), so tests can tell a refusal from a plugin that
never tried.

Modes: ok, bump, loop, memory, recursion, panic, read-file, env, socket, bad-column.
Unlike Rust, `recursion` ends in Python's own RecursionError (an Err, not a stack
overflow trap), and `socket` cannot try at all: the Err says "CannotTry: ... no socket
module".
"""

import os

import godwit
from godwit import Row, Spec, config


class Denied(Exception):
    """The sandbox refused what the mode tried; the message names it."""


class CannotTry(Exception):
    """Python in a component cannot even attempt what the mode asks."""


def mode() -> str:
    return config.get_str("mode", "ok")


def key() -> str:
    return config.get_str("key", "id")


def map_rows(rows: list[Row], column) -> list[dict]:
    """Each row keyed as given, with the (name, value) that `column(row)` returns."""
    k = key()
    out = []
    for row in rows:
        name, value = column(row)
        out.append({k: row.require(k), name: value})
    return out


def dive(depth: int) -> int:
    return dive(depth + 1) + 1


class Hostile(godwit.Backfill):
    def describe(self) -> Spec:
        if mode() == "bump":
            reads, writes = ["n"], ["n"]
        else:
            reads, writes = config.get_list("reads"), config.get_list("writes")
        return Spec(
            table=config.get_str("table", "items"),
            key=key(),
            reads=reads,
            writes=writes,
            batch_size_hint=config.get_int("batch_size", 100),
        )

    def transform(self, rows: list[Row]) -> list[dict]:
        m = mode()
        if m == "ok":
            source, target = config.require_str("from"), config.require_str("to")

            def upper(row: Row):
                value = row.require(source)
                return target, value.upper() if isinstance(value, str) else None

            return map_rows(rows, upper)
        if m == "bump":
            return map_rows(rows, lambda row: ("n", (row.int("n") or 0) + 1))
        if m == "loop":
            while True:
                pass
        if m == "memory":
            hoard = []
            while True:
                hoard.append(bytearray(b"\1" * (1 << 20)))
        if m == "recursion":
            return [{"unreachable": dive(0)}]
        if m == "panic":
            raise RuntimeError("hostile plugin panics on purpose")
        if m == "read-file":
            try:
                with open("/etc/passwd", "rb") as f:
                    data = f.read()
            except Exception as e:
                raise Denied(f"cannot read /etc/passwd: {e}") from None
            raise Denied(f"read /etc/passwd: {len(data)} bytes, the sandbox let it through")
        if m == "env":
            home = os.environ.get("HOME")
            if home is None:
                raise Denied("cannot read env var HOME")
            # Granted: behave, writing HOME into `to`, so a test sees the grant work.
            target = config.require_str("to")
            return map_rows(rows, lambda row: (target, home))
        if m == "socket":
            # componentize-py's CPython has no socket module, so this mode cannot reach
            # the host's network checks: it says so, rather than pass for a refusal.
            try:
                import socket
            except ImportError as e:
                raise CannotTry(
                    f"cannot connect to 127.0.0.1:5432: this Python has no socket module ({e})"
                ) from None
            try:
                with socket.create_connection(("127.0.0.1", 5432), timeout=1):
                    pass
            except Exception as e:
                raise Denied(f"cannot connect to 127.0.0.1:5432: {type(e).__name__}: {e}") from None
            raise Denied("connected to 127.0.0.1:5432, the sandbox let it through")
        if m == "bad-column":
            column = config.get_str("column", "secret")
            return map_rows(rows, lambda row: (column, "pwned"))
        raise ValueError(f"unknown mode {m!r}")


WitWorld = godwit.export(Hostile)
