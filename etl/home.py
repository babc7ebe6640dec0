"""Where the project keeps its files: the catalog home and the jar cache.

Both are read from the environment when asked for, never at import time, so tests and jobs
can point them elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path


def etl_home() -> Path:
    """The catalog home (catalog database, Spark warehouse). ``$ETL_HOME`` or ``./catalog``."""
    return Path(os.environ.get("ETL_HOME", "catalog")).resolve()


def cache_dir() -> Path:
    """Where resolved Spark packages are cached. ``$ETL_CACHE_DIR`` or ``~/.cache/localglue``."""
    explicit = os.environ.get("ETL_CACHE_DIR")
    if explicit:
        return Path(explicit).resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return (base / "localglue").resolve()


def warehouse_dir() -> Path:
    """Spark SQL's warehouse, under the catalog home."""
    return etl_home() / "warehouse"
