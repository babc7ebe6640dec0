"""Run ``spark-submit`` from this Python environment (used by the demo, ``etl run`` and tests)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def spark_submit_executable() -> str:
    """The spark-submit that pyspark installed beside this interpreter."""
    candidate = Path(sys.executable).parent / "spark-submit"
    return str(candidate) if candidate.exists() else str(spark_home() / "bin" / "spark-submit")


def submit_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a spark-submit child: this venv's Spark and Python, even when the venv
    is not activated in the calling shell."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.setdefault("SPARK_HOME", str(spark_home()))
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    env.update(extra or {})
    return env


def spark_submit_command(script: str | Path, args: Sequence[str] = (), *, master: str | None = None,
                         conf: Mapping[str, str] | None = None) -> list[str]:
    cmd = [spark_submit_executable()]
    if master:
        cmd += ["--master", master]
    for key, value in (conf or {}).items():
        cmd += ["--conf", f"{key}={value}"]
    return [*cmd, str(script), *args]
