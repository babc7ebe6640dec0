"""Find a Java runtime Spark 4 can use, and say clearly when there is none."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache

from etl.errors import JavaNotFoundError

SUPPORTED_JAVA = (17, 21)


def java_executable() -> str:
    """Path of the ``java`` binary: ``$JAVA_HOME/bin/java``, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = os.path.join(home, "bin", "java")
        if os.access(candidate, os.X_OK):
            return candidate
        raise JavaNotFoundError(f"JAVA_HOME={home} has no executable bin/java")
    found = shutil.which("java")
    if not found:
        raise JavaNotFoundError(
            "Java not found: Spark 4 needs Java 17 or 21. Install a JDK "
            "(e.g. `apt-get install openjdk-17-jdk-headless`) or set JAVA_HOME."
        )
    return found


@cache
def java_major_version() -> int:
    """Major version of the Java runtime, e.g. 17."""
    exe = java_executable()
    proc = subprocess.run([exe, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if not match:
        raise JavaNotFoundError(f"could not read the version of {exe}: {proc.stderr.strip()}")
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def check_java() -> int:
    """Return the Java major version, raising a clear error when Spark cannot run on it."""
    major = java_major_version()
    if major < SUPPORTED_JAVA[0]:
        raise JavaNotFoundError(
            f"Java {major} at {java_executable()} is too old: Spark 4 needs Java 17 or 21"
        )
    return major
