"""Write to godwit's log under the plugin's name; the host caps each message.

>>> from godwit import log
>>> log.info(f"normalised {n} emails")

``print()`` works too: what a plugin writes to stdout and stderr is shown tagged with its
name, but only ``log`` has levels.
"""

from __future__ import annotations

from typing import Any

from wit_world.imports import host

__all__ = ["trace", "debug", "info", "warn", "warning", "error"]


def _log(level: host.Level, message: Any) -> None:
    host.log(level, message if isinstance(message, str) else str(message))


def trace(message: Any) -> None:
    """Logs ``message`` at ``trace`` level."""
    _log(host.Level.TRACE, message)


def debug(message: Any) -> None:
    """Logs ``message`` at ``debug`` level."""
    _log(host.Level.DEBUG, message)


def info(message: Any) -> None:
    """Logs ``message`` at ``info`` level."""
    _log(host.Level.INFO, message)


def warn(message: Any) -> None:
    """Logs ``message`` at ``warn`` level."""
    _log(host.Level.WARN, message)


#: The :mod:`logging` spelling of :func:`warn`.
warning = warn


def error(message: Any) -> None:
    """Logs ``message`` at ``error`` level."""
    _log(host.Level.ERROR, message)
