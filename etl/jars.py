"""Spark packages (Delta, Avro, JDBC drivers): resolve them once from Maven Central, then reuse.

Resolution runs Apache Ivy, the resolver Spark itself uses for ``--packages``, from the jar that
pyspark ships, so nothing else needs installing. Jars land in ``<cache>/jars/<set>/`` with a
``manifest.json``; later sessions read the manifest and start offline.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from etl.errors import JarResolutionError
from etl.home import cache_dir
from etl.javacheck import java_executable

MAVEN_CENTRAL = "https://repo1.maven.org/maven2/"
POSTGRES_JDBC = "org.postgresql:postgresql:42.7.4"


@dataclass(frozen=True)
class Coordinate:
    """A Maven coordinate ``group:artifact:version``."""

    group: str
    artifact: str
    version: str

    @classmethod
    def parse(cls, text: str) -> Coordinate:
        parts = text.split(":")
        if len(parts) != 3 or not all(parts):
            raise JarResolutionError(f"not a Maven coordinate (group:artifact:version): {text!r}")
        return cls(*parts)

    def __str__(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"


def spark_version() -> str:
    return version("pyspark")


def delta_coordinate() -> str:
    """The Delta jar matching the installed delta-spark and pyspark.

    From Delta 4.1 the artifact name carries the Spark minor version
    (``delta-spark_4.1_2.13``); Delta 4.0 used ``delta-spark_2.13``.
    """
    delta = version("delta-spark")
    major, minor = (int(p) for p in delta.split(".")[:2])
    if (major, minor) >= (4, 1):
        spark_minor = ".".join(spark_version().split(".")[:2])
        return f"io.delta:delta-spark_{spark_minor}_2.13:{delta}"
    return f"io.delta:delta-spark_2.13:{delta}"


def default_packages() -> list[str]:
    """Packages every session gets: Delta, Avro and the PostgreSQL JDBC driver."""
    return [
        delta_coordinate(),
        f"org.apache.spark:spark-avro_2.13:{spark_version()}",
        POSTGRES_JDBC,
    ]


def _set_dir(packages: list[str]) -> Path:
    digest = hashlib.sha256("\n".join(sorted(packages)).encode()).hexdigest()[:12]
    return cache_dir() / "jars" / digest


def cached_jars(packages: list[str]) -> list[Path] | None:
    """The cached jars for ``packages``, or None when they are not (all) cached."""
    manifest = _set_dir(packages) / "manifest.json"
    if not manifest.is_file():
        return None
    data = json.loads(manifest.read_text())
    jars = [Path(p) for p in data.get("jars", [])]
    if sorted(data.get("packages", [])) != sorted(packages) or not all(j.is_file() for j in jars):
        return None
    return jars


def _ivy_jar() -> Path:
    import pyspark

    jars = sorted((Path(pyspark.__file__).parent / "jars").glob("ivy-*.jar"))
    if not jars:
        raise JarResolutionError("pyspark ships no Ivy jar; cannot resolve Spark packages")
    return jars[-1]


def _ivy_settings(cache: Path) -> str:
    return f"""<ivysettings>
  <settings defaultResolver="chain"/>
  <caches defaultCacheDir="{cache}"/>
  <resolvers>
    <chain name="chain">
      <ibiblio name="central" m2compatible="true" root="{MAVEN_CENTRAL}"/>
    </chain>
  </resolvers>
</ivysettings>
"""


# Groups Spark always provides (spark-* come in with "provided" scope and are filtered below).
_PROVIDED_GROUPS = ("org.scala-lang", "org.slf4j", "org.apache.hadoop")
_JAR_NAME = re.compile(r"^(?P<artifact>.+?)-(?P<version>\d[^-]*)(?:-.*)?\.jar$")


def _spark_provided_artifacts() -> set[str]:
    """Artifact names of the jars pyspark already ships (jackson, parquet, log4j, ...).

    A transitive dependency that Spark already has would be an older duplicate on the
    classpath, so it is left out of the cached set.
    """
    import pyspark

    names = set()
    for jar in (Path(pyspark.__file__).parent / "jars").glob("*.jar"):
        match = _JAR_NAME.match(jar.name)
        if match:
            names.add(match.group("artifact"))
    return names


def _ivy_module(packages: list[Coordinate]) -> str:
    deps = "\n".join(
        f'    <dependency org="{c.group}" name="{c.artifact}" rev="{c.version}" '
        'conf="default->default(compile),runtime(*),master(*)"/>'
        for c in packages
    )
    excludes = "\n".join(f'    <exclude org="{g}"/>' for g in _PROVIDED_GROUPS)
    return f"""<ivy-module version="2.0">
  <info organisation="localglue" module="spark-packages"/>
  <configurations><conf name="default"/></configurations>
  <dependencies>
{deps}
{excludes}
  </dependencies>
</ivy-module>
"""


def resolve(packages: list[str] | None = None, *, force: bool = False) -> list[Path]:
    """Return local jar paths for ``packages``, downloading them on first use.

    Raises:
        JarResolutionError: Maven Central cannot be reached and the jars are not cached.
    """
    packages = packages or default_packages()
    if not force:
        jars = cached_jars(packages)
        if jars is not None:
            return jars
    coords = [Coordinate.parse(p) for p in packages]
    target = _set_dir(packages)
    ivy_cache = cache_dir() / "ivy"
    ivy_cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="etl-ivy-") as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "ivysettings.xml").write_text(_ivy_settings(ivy_cache))
        (tmpdir / "ivy.xml").write_text(_ivy_module(coords))
        staging = tmpdir / "jars"
        cmd = [
            java_executable(), "-jar", str(_ivy_jar()),
            "-settings", str(tmpdir / "ivysettings.xml"),
            "-ivy", str(tmpdir / "ivy.xml"),
            "-confs", "default",
            "-retrieve", f"{staging}/[organisation]__[artifact]__[revision](-[classifier]).[ext]",
            "-types", "jar", "bundle",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise JarResolutionError(
                f"could not resolve {', '.join(packages)} from {MAVEN_CENTRAL} "
                f"(is Maven Central reachable?):\n{tail}"
            )
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        provided = _spark_provided_artifacts()
        jars = []
        for jar in sorted(staging.glob("*.jar")):
            _org, artifact, _rest = jar.name.split("__", 2)
            if artifact in provided:
                continue
            dest = target / jar.name
            shutil.copy2(jar, dest)
            jars.append(dest)
    if not jars:
        raise JarResolutionError(f"Ivy resolved no jars for {', '.join(packages)}")
    manifest = {"packages": sorted(packages), "jars": [str(j) for j in jars]}
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return jars
