"""Job arguments as Glue handles them: names, reserved names, merge order and the command line.

Arguments are a string-to-string map. Keys may be written with or without the leading ``--``
(``--input`` and ``input`` are the same argument); they are stored without it. Glue resolves an
argument set in several places in this order: the job's non-overridable arguments win over the
run's arguments, which win over the job's default arguments.

Reserved names (Glue sets them, or uses them internally) cannot be set in a definition or a run:
``JOB_NAME``, ``JOB_ID``, ``JOB_RUN_ID``, ``SECURITY_CONFIGURATION``, ``conf``, ``debug`` and ``mode``.
Spark configuration belongs in the definition's ``spark_conf``, not in ``--conf``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from etl.errors import ConfigError
from etl.jobs.args import BOOKMARK_OPTIONS

RESERVED_NAMES = ("JOB_NAME", "JOB_ID", "JOB_RUN_ID", "SECURITY_CONFIGURATION", "conf", "debug", "mode")
_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def normalize_key(key: Any) -> str:
    """``--input`` -> ``input``; the name must be letters, digits, ``_``, ``-`` or ``.``.

    Raises:
        ValueError: the key is empty, reserved or has other characters.
    """
    if not isinstance(key, str):
        raise ValueError(f"argument name {key!r} must be a string")
    name = key[2:] if key.startswith("--") else key
    if not _KEY.match(name):
        raise ValueError(f"argument name {key!r} is invalid (letters, digits, _ - . after an optional --)")
    if name in RESERVED_NAMES:
        hint = " (set Spark configuration in spark_conf)" if name == "conf" else ""
        raise ValueError(f"--{name} is reserved and set by the runner, not by a definition or a run{hint}")
    return name


def normalize_value(name: str, value: Any) -> str:
    """Glue argument values are strings: numbers become text, booleans ``true``/``false``, null ``""``.

    Raises:
        ValueError: the value is a list or mapping, or a bookmark option is not one of Glue's.
    """
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float | str):
        text = str(value)
    else:
        raise ValueError(f"--{name}: expected a string value, got {type(value).__name__}")
    if name == "job-bookmark-option" and text not in BOOKMARK_OPTIONS:
        raise ValueError(f"--job-bookmark-option must be one of {', '.join(BOOKMARK_OPTIONS)}, got {text!r}")
    return text


def normalize_arguments(arguments: Mapping[Any, Any] | None) -> dict[str, str]:
    """Keys without ``--``, values as strings; duplicate spellings (``--a`` and ``a``) are an error.

    Raises:
        ValueError: a key is invalid or reserved, a value is not a scalar, or a key appears twice.
    """
    result: dict[str, str] = {}
    for key, value in (arguments or {}).items():
        name = normalize_key(key)
        if name in result:
            raise ValueError(f"--{name} is given twice (with and without the leading --)")
        result[name] = normalize_value(name, value)
    return result


def check_arguments(arguments: Mapping[Any, Any] | None, where: str) -> dict[str, str]:
    """:func:`normalize_arguments` raising :class:`ConfigError` that names ``where`` they came from."""
    try:
        return normalize_arguments(arguments)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def merge_arguments(
    default: Mapping[str, str] | None, run: Mapping[str, str] | None, non_overridable: Mapping[str, str] | None
) -> dict[str, str]:
    """Glue's resolution: non-overridable > run > default. Inputs must already be normalized."""
    return {**(default or {}), **(run or {}), **(non_overridable or {})}


def to_argv(arguments: Mapping[str, str]) -> list[str]:
    """``{"input": "x"}`` -> ``["--input", "x"]``, the form scripts read with getResolvedOptions."""
    argv: list[str] = []
    for name, value in arguments.items():
        argv += [f"--{name}", value]
    return argv


def parse_argv(argv: Sequence[str]) -> dict[str, str]:
    """The inverse of :func:`to_argv`; also accepts ``--k=v``. Reserved names are kept.

    Raises:
        ConfigError: an item is not an option, or an option has no value.
    """
    result: dict[str, str] = {}
    items = list(argv)
    i = 0
    while i < len(items):
        item = items[i]
        if not item.startswith("--") or len(item) == 2:
            raise ConfigError(f"job arguments: expected --name, got {item!r}")
        if "=" in item:
            name, value = item[2:].split("=", 1)
            i += 1
        else:
            if i + 1 >= len(items):
                raise ConfigError(f"job arguments: {item} has no value")
            name, value = item[2:], items[i + 1]
            i += 2
        result[name] = value
    return result


def parse_cli_arguments(items: Iterable[str]) -> dict[str, str]:
    """``etl run --arg k=v --arg --k2=v2`` -> ``{"k": "v", "k2": "v2"}`` (the last one wins).

    Raises:
        ConfigError: an item has no ``=``, or its name is invalid or reserved.
    """
    result: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--arg {item!r}: expected NAME=VALUE")
        key, value = item.split("=", 1)
        try:
            name = normalize_key(key.strip())
            result[name] = normalize_value(name, value)
        except ValueError as exc:
            raise ConfigError(f"--arg {item!r}: {exc}") from None
    return result
