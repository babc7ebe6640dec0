"""``getResolvedOptions``: Glue's job-argument parser.

Glue passes job arguments as ``--NAME value`` (or ``--NAME=value``); a script asks for the ones
it needs by name. Like Glue, the result also carries the reserved bookmark and run options, and
names with dashes come back with underscores (``--job-bookmark-option`` -> ``job_bookmark_option``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from etl.errors import ConfigError

BOOKMARK_OPTIONS = ("job-bookmark-enable", "job-bookmark-disable", "job-bookmark-pause")
RESERVED = ("job-bookmark-option", "job-bookmark-from", "job-bookmark-to", "continuation-option",
            "JOB_ID", "JOB_RUN_ID", "SECURITY_CONFIGURATION", "encryption-type", "TempDir",
            "RedshiftTempDir")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print and exit
        raise ConfigError(f"job arguments: {message}")


def getResolvedOptions(args: Sequence[str], options: Sequence[str]) -> dict[str, str]:
    """Resolve the named ``options`` from ``args`` (normally ``sys.argv``).

    Args:
        args: the command line; ``args[0]`` is the script and is skipped.
        options: names the script requires, without dashes (e.g. ``["JOB_NAME", "input"]``).

    Returns:
        A dict of every required option plus the reserved ones that were given, keyed with
        dashes turned into underscores.

    Raises:
        ConfigError: a required option is missing, or a reserved name is requested.
    """
    # As in Glue, scripts may ask for TempDir/RedshiftTempDir but not for the other reserved names.
    forbidden = {*RESERVED, "continuation-option"} - {"TempDir", "RedshiftTempDir"}
    clashes = [o for o in options if o in forbidden]
    if clashes:
        raise ConfigError(f"using reserved arguments {clashes}")
    parser = _Parser(add_help=False, allow_abbrev=False)
    parser.add_argument("--job-bookmark-option", choices=BOOKMARK_OPTIONS, required=False)
    for name in RESERVED[1:]:
        if name not in options:
            parser.add_argument(f"--{name}", required=False)
    for name in options:
        parser.add_argument(f"--{name}", required=True)
    parsed, _unknown = parser.parse_known_args(list(args[1:]))
    resolved = {k: v for k, v in vars(parsed).items() if v is not None or k in _dest(options)}
    if "job_bookmark_option" not in resolved:
        resolved["job_bookmark_option"] = "job-bookmark-disable"
    return resolved


def _dest(options: Sequence[str]) -> set[str]:
    return {o.replace("-", "_") for o in options}
