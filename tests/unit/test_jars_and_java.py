"""Maven coordinates, the jar cache manifest, and finding Java (no JVM is started)."""

from __future__ import annotations

import json
import os
import stat
from importlib.metadata import version
from pathlib import Path

import pytest

from etl import jars, javacheck
from etl.errors import JarResolutionError, JavaNotFoundError, SetupError
from etl.home import cache_dir

# --------------------------------------------------------------------------------------------
# Coordinate
# --------------------------------------------------------------------------------------------


def test_coordinate_parse_and_str_round_trip():
    coord = jars.Coordinate.parse("io.delta:delta-spark_4.1_2.13:4.4.0")
    assert coord == jars.Coordinate("io.delta", "delta-spark_4.1_2.13", "4.4.0")
    assert coord.group == "io.delta"
    assert coord.artifact == "delta-spark_4.1_2.13"
    assert coord.version == "4.4.0"
    assert str(coord) == "io.delta:delta-spark_4.1_2.13:4.4.0"


@pytest.mark.parametrize(
    "bad", ["io.delta:delta-spark", "a:b:c:d", "a::1", ":b:1", "a:b:", "", "just-a-name"]
)
def test_coordinate_parse_rejects_malformed(bad):
    with pytest.raises(JarResolutionError, match="not a Maven coordinate") as info:
        jars.Coordinate.parse(bad)
    assert repr(bad) in str(info.value)


# --------------------------------------------------------------------------------------------
# versions
# --------------------------------------------------------------------------------------------


def test_delta_coordinate_matches_installed_versions():
    delta = version("delta-spark")
    spark_minor = ".".join(version("pyspark").split(".")[:2])
    coord = jars.Coordinate.parse(jars.delta_coordinate())
    assert coord.group == "io.delta"
    assert coord.version == delta
    assert coord.artifact == f"delta-spark_{spark_minor}_2.13"


def test_delta_coordinate_for_this_pinned_stack():
    # pyproject pins pyspark 4.1.1 and delta-spark 4.4.0
    assert jars.delta_coordinate() == "io.delta:delta-spark_4.1_2.13:4.4.0"


def test_delta_coordinate_before_4_1_has_no_spark_minor(monkeypatch):
    monkeypatch.setattr(jars, "version", lambda name: {"delta-spark": "4.0.0",
                                                       "pyspark": "4.0.1"}[name])
    assert jars.delta_coordinate() == "io.delta:delta-spark_2.13:4.0.0"


def test_default_packages_pin_avro_to_the_exact_spark_version():
    packages = jars.default_packages()
    assert jars.delta_coordinate() in packages
    assert f"org.apache.spark:spark-avro_2.13:{version('pyspark')}" in packages
    assert jars.POSTGRES_JDBC in packages
    for p in packages:
        jars.Coordinate.parse(p)  # all well formed


# --------------------------------------------------------------------------------------------
# cache
# --------------------------------------------------------------------------------------------


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("ETL_CACHE_DIR", str(root))
    return root


def write_manifest(
    packages: list[str], jar_paths: list[Path], declared: list[str] | None = None
) -> Path:
    target = jars._set_dir(packages)
    target.mkdir(parents=True, exist_ok=True)
    manifest = target / "manifest.json"
    manifest.write_text(json.dumps({"packages": declared if declared is not None else packages,
                                    "jars": [str(j) for j in jar_paths]}))
    return manifest


def test_cache_dir_follows_the_environment(cache):
    assert cache_dir() == cache.resolve()


def test_cached_jars_none_for_unknown_package_set(cache):
    assert jars.cached_jars(["com.example:nothing:1.0"]) is None
    assert jars.cached_jars(jars.default_packages()) is None  # empty cache


def test_cached_jars_reads_a_hand_written_manifest(cache):
    packages = ["com.example:lib:1.0", "org.example:other_2.13:2.0"]
    jar_dir = cache / "somewhere"
    jar_dir.mkdir(parents=True)
    paths = [jar_dir / "com.example__lib__1.0.jar", jar_dir / "org.example__other_2.13__2.0.jar"]
    for p in paths:
        p.write_bytes(b"PK")
    manifest = write_manifest(packages, paths)
    assert manifest.is_relative_to(cache.resolve())
    assert jars.cached_jars(packages) == paths
    # the package order does not matter
    assert jars.cached_jars(list(reversed(packages))) == paths
    # a different set is a different cache entry
    assert jars.cached_jars(packages[:1]) is None


def test_cached_jars_none_when_a_jar_is_gone(cache):
    packages = ["com.example:lib:1.0"]
    jar = cache / "lib.jar"
    jar.parent.mkdir(parents=True)
    jar.write_bytes(b"PK")
    write_manifest(packages, [jar])
    assert jars.cached_jars(packages) == [jar]
    jar.unlink()
    assert jars.cached_jars(packages) is None


def test_cached_jars_none_when_manifest_lists_other_packages(cache):
    packages = ["com.example:lib:1.0"]
    jar = cache / "lib.jar"
    jar.parent.mkdir(parents=True)
    jar.write_bytes(b"PK")
    write_manifest(packages, [jar], declared=["com.example:lib:0.9"])
    assert jars.cached_jars(packages) is None


def test_resolve_uses_the_cache_without_java_or_network(cache, monkeypatch):
    packages = ["com.example:lib:1.0"]
    jar = cache / "lib.jar"
    jar.parent.mkdir(parents=True)
    jar.write_bytes(b"PK")
    write_manifest(packages, [jar])

    def no_java() -> str:
        raise AssertionError("resolve() must not run Ivy when the jars are cached")

    monkeypatch.setattr(jars, "java_executable", no_java)
    assert jars.resolve(packages) == [jar]


def test_resolve_rejects_a_bad_coordinate_before_running_anything(cache, monkeypatch):
    monkeypatch.setattr(jars, "java_executable", lambda: pytest.fail("Ivy must not run"))
    with pytest.raises(JarResolutionError, match="not a Maven coordinate"):
        jars.resolve(["not-a-coordinate"])


# --------------------------------------------------------------------------------------------
# Java
# --------------------------------------------------------------------------------------------


@pytest.fixture
def fresh_java_cache():
    javacheck.java_major_version.cache_clear()
    yield
    javacheck.java_major_version.cache_clear()


def fake_java(home: Path, version_line: str) -> Path:
    """A ``bin/java`` that prints ``version_line`` on stderr, as ``java -version`` does."""
    exe = home / "bin" / "java"
    exe.parent.mkdir(parents=True, exist_ok=True)
    exe.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return exe


def test_java_home_without_bin_java(tmp_path, monkeypatch, fresh_java_cache):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(JavaNotFoundError) as info:
        javacheck.java_executable()
    message = str(info.value)
    assert f"JAVA_HOME={tmp_path}" in message
    assert "bin/java" in message
    with pytest.raises(JavaNotFoundError):
        javacheck.check_java()


def test_java_home_with_non_executable_java(tmp_path, monkeypatch, fresh_java_cache):
    exe = tmp_path / "bin" / "java"
    exe.parent.mkdir()
    exe.write_text("not a program")
    exe.chmod(0o644)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(JavaNotFoundError, match="no executable bin/java"):
        javacheck.java_executable()


def test_java_missing_from_path(tmp_path, monkeypatch, fresh_java_cache):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(JavaNotFoundError) as info:
        javacheck.java_executable()
    assert "Java 17" in str(info.value)
    assert "JAVA_HOME" in str(info.value)  # it says how to fix it
    with pytest.raises(JavaNotFoundError, match="Java 17"):
        javacheck.check_java()


def test_java_not_found_is_a_setup_error():
    assert issubclass(JavaNotFoundError, SetupError)


def test_java_home_wins_over_path(tmp_path, monkeypatch, fresh_java_cache):
    exe = fake_java(tmp_path / "jdk", 'openjdk version "21.0.2" 2024-01-16')
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    assert javacheck.java_executable() == str(exe)
    assert javacheck.check_java() == 21


def test_java_on_path_is_used_without_java_home(tmp_path, monkeypatch, fresh_java_cache):
    exe = fake_java(tmp_path / "jdk", 'openjdk version "17.0.9" 2023-10-17')
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(exe.parent) + os.pathsep + "/bin")
    assert javacheck.java_executable() == str(exe)
    assert javacheck.java_major_version() == 17


@pytest.mark.parametrize(
    ("line", "major"),
    [('java version "1.8.0_202"', 8), ('openjdk version "11.0.22" 2024-01-16', 11)],
)
def test_old_java_is_rejected(tmp_path, monkeypatch, fresh_java_cache, line, major):
    fake_java(tmp_path, line)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    assert javacheck.java_major_version() == major
    with pytest.raises(JavaNotFoundError) as info:
        javacheck.check_java()
    assert f"Java {major}" in str(info.value)
    assert "too old" in str(info.value)
    assert "17" in str(info.value)


def test_unreadable_java_version(tmp_path, monkeypatch, fresh_java_cache):
    fake_java(tmp_path, "something went wrong")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(JavaNotFoundError, match="could not read the version"):
        javacheck.java_major_version()


def test_java_major_version_is_cached(tmp_path, monkeypatch, fresh_java_cache):
    fake_java(tmp_path / "a", 'openjdk version "17.0.1"')
    fake_java(tmp_path / "b", 'openjdk version "21.0.1"')
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "a"))
    assert javacheck.java_major_version() == 17
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "b"))
    assert javacheck.java_major_version() == 17  # cached until cleared
    javacheck.java_major_version.cache_clear()
    assert javacheck.java_major_version() == 21
