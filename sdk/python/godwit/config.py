"""The plugin's settings: godwit.toml's ``[plugins.NAME.config]``, overridden key by key by
the ``[config]`` of the step.toml that runs it.

>>> from godwit import config
>>> table = config.get_str("table", "users")
>>> only_missing = config.get_bool("only_missing", True)
>>> columns = config.get_list("columns")       # "a, b" -> ["a", "b"]
>>> token = config.require_str("token")        # raises ConfigError naming the setting

Getters return the default when the setting is absent (or ``NULL``) and raise
:class:`ConfigError` when it holds something they cannot read as their type.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from wit_world.imports import host

from .values import describe, from_wit

__all__ = [
    "ConfigError",
    "all",
    "get",
    "get_str",
    "require_str",
    "get_bool",
    "get_int",
    "get_float",
    "get_list",
]

_builtin_all = all


class ConfigError(ValueError):
    """A setting is missing or cannot be read as the type asked for."""


def all() -> Dict[str, Any]:  # noqa: A001 - mirrors the Rust SDK's config::all
    """Every setting as a dict of native values, in the order the host gave them."""
    return {key: from_wit(value) for key, value in host.config()}


def get(key: str, default: Any = None) -> Any:
    """The setting called ``key`` as a native value, or ``default``."""
    value = all().get(key)
    return default if value is None else value


def get_str(key: str, default: Optional[str] = None) -> Optional[str]:
    """The setting as text; numbers and booleans in their TOML spelling (``true``, ``10``)."""
    value = get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ConfigError(f"setting `{key}` must be text, not {describe(value)}")


def require_str(key: str) -> str:
    """The setting as text, or :class:`ConfigError` saying where to set it."""
    value = get_str(key)
    if value is None:
        raise ConfigError(
            f"setting `{key}` is required: set it in the plugin's [config] in godwit.toml or step.toml"
        )
    return value


def get_bool(key: str, default: Optional[bool] = None) -> Optional[bool]:
    """The setting as a boolean (``true``/``false``, also as text)."""
    value = get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError(f"setting `{key}` must be true or false, not {value!r}")


def get_int(key: str, default: Optional[int] = None) -> Optional[int]:
    """The setting as an integer (also as text)."""
    value = get(key)
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"setting `{key}` must be an integer, not {value!r}")


def get_float(key: str, default: Optional[float] = None) -> Optional[float]:
    """The setting as a number (an integer, a float, or text spelling one)."""
    value = get(key)
    if value is None:
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"setting `{key}` must be a number, not {value!r}")


def get_list(key: str, default: Optional[List[str]] = None) -> List[str]:
    """The setting as a comma-separated list, items trimmed, empty ones dropped."""
    value = get_str(key)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]
