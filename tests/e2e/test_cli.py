"""The ``etl`` command, run as a user runs it: a subprocess of this venv's console script."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from etl import jars

pytestmark = pytest.mark.e2e

ETL = Path(sys.executable).parent / "etl"


def run_etl(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ETL), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout,
        check=False,
    )


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["ETL_HOME"] = str(tmp_path / "home")
    env.update(extra)
    return env


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr[-3000:]}"


def test_the_console_script_is_installed():
    assert ETL.is_file() and os.access(ETL, os.X_OK)


def test_help_lists_the_commands(tmp_path):
    proc = run_etl("--help", env=base_env(tmp_path))
    assert proc.returncode == 0, explain(proc)
    for command in ("setup", "info", "demo"):
        assert re.search(rf"^\W*{command}\b", proc.stdout, re.MULTILINE), explain(proc)


def test_info_prints_versions_java_catalog_and_jar_cache(tmp_path):
    proc = run_etl("info", env=base_env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, explain(proc)
    out = proc.stdout
    assert f"pyspark {version('pyspark')}" in out
    assert f"delta-spark {version('delta-spark')}" in out
    assert re.search(r"java: \S+ \(Java (17|21)\)", out), out
    assert f"catalog home: {(tmp_path / 'home').resolve()}" in out
    assert "jar cache:" in out
    # `etl setup` has run on this machine, so the default packages are cached
    cached = jars.cached_jars(jars.default_packages())
    assert cached, "run `etl setup` first"
    assert f"({len(cached)} jars)" in out


def test_info_reports_an_empty_jar_cache(tmp_path):
    empty = tmp_path / "empty-cache"
    empty.mkdir()
    proc = run_etl("info", env=base_env(tmp_path, ETL_CACHE_DIR=str(empty)), cwd=tmp_path)
    assert proc.returncode == 0, explain(proc)
    assert f"jar cache: {empty.resolve()} (not resolved (run `etl setup`))" in proc.stdout
    assert list(empty.iterdir()) == []  # info only looks


def test_setup_writes_spark_defaults(tmp_path):
    proc = run_etl("setup", env=base_env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, explain(proc)
    assert re.search(r"^Java (17|21): ok$", proc.stdout, re.MULTILINE), explain(proc)
    match = re.search(r"^Spark packages: (\d+) jars cached in (.+)$", proc.stdout, re.MULTILINE)
    assert match, explain(proc)
    jar_dir = Path(match.group(2).strip())
    assert jar_dir.is_dir()
    assert int(match.group(1)) == len(list(jar_dir.glob("*.jar")))

    match = re.search(r"^Spark defaults: (.+)$", proc.stdout, re.MULTILINE)
    assert match, explain(proc)
    defaults = Path(match.group(1).strip())
    assert defaults.name == "spark-defaults.conf"
    assert defaults.is_file()
    text = defaults.read_text()
    settings = dict(
        line.split(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert "spark.jars" in settings
    listed = [Path(p) for p in settings["spark.jars"].split(",")]
    assert listed and all(p.is_file() for p in listed)
    assert any(p.name.startswith("io.delta__delta-spark_") for p in listed)
    assert settings["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert settings["spark.sql.catalog.spark_catalog"] == (
        "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    )
    assert (defaults.parent / "log4j2.properties").is_file()


def test_etl_error_exits_2_with_a_message_not_a_traceback(tmp_path):
    empty_cache = tmp_path / "cache"
    empty_cache.mkdir()
    bogus_java = tmp_path / "no-jdk-here"
    bogus_java.mkdir()
    env = base_env(tmp_path, ETL_CACHE_DIR=str(empty_cache), JAVA_HOME=str(bogus_java))
    proc = run_etl("setup", env=env, cwd=tmp_path)
    assert proc.returncode == 2, explain(proc)
    assert "error:" in proc.stderr
    assert str(bogus_java) in proc.stderr
    assert "bin/java" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Spark defaults" not in proc.stdout
    # it stopped before downloading anything
    assert list(empty_cache.iterdir()) == []


def test_info_with_a_bogus_java_home_exits_2(tmp_path):
    env = base_env(tmp_path, JAVA_HOME=str(tmp_path / "missing-jdk"))
    proc = run_etl("info", env=env, cwd=tmp_path)
    assert proc.returncode == 2, explain(proc)
    assert "error:" in proc.stderr and "JAVA_HOME=" in proc.stderr
    assert "Traceback" not in proc.stderr
