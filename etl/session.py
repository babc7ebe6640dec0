"""The one place that builds a SparkSession.

Defaults suit a laptop (``local[*]``, Delta and Avro on the classpath, warehouse under the catalog
home). Anything already running wins: under ``spark-submit`` or inside a Glue-style script that
made its own ``SparkContext``, :func:`get_session` returns that session untouched.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from pyspark.sql import SparkSession

from etl import jars
from etl.home import etl_home, warehouse_dir
from etl.javacheck import check_java

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}

LOCAL_CONF = {
    "spark.ui.showConsoleProgress": "false",
    # Spark 4 defaults to ANSI mode; Glue scripts expect the lenient casts of Glue 4/5.
    "spark.sql.ansi.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    # Plain log lines (Spark 4 logs JSON by default), quieted by etl setup's log4j2.properties.
    "spark.log.structuredLogging.enabled": "false",
    # Wide frames (FindMatches' features) otherwise log a warning that a plan string was truncated.
    "spark.sql.debug.maxToStringFields": "500",
}

TEST_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.sql.adaptive.enabled": "true",
    "spark.driver.memory": "2g",
    "spark.databricks.delta.snapshotPartitions": "2",
}


def session_conf(
    *, testing: bool = False, extra: Mapping[str, str] | None = None, jar_paths: list[Path] | None = None
) -> dict[str, str]:
    """The configuration :func:`get_session` applies, as a plain dict (also written to
    ``spark-defaults.conf`` by ``etl setup``)."""
    conf: dict[str, str] = {}
    conf.update(LOCAL_CONF)
    conf.update(DELTA_CONF)
    conf["spark.sql.warehouse.dir"] = str(warehouse_dir())
    conf["spark.driver.extraJavaOptions"] = f"-Dderby.system.home={etl_home() / 'derby'}"
    if jar_paths is None:
        jar_paths = jars.resolve()
    conf["spark.jars"] = ",".join(str(p) for p in jar_paths)
    if testing:
        conf.update(TEST_CONF)
    if extra:
        conf.update(extra)
    return conf


# PySpark logs every failed query, with the JVM stack, as JSON on stderr before raising it;
# the raised exception already says it all.
_NOISY_PYSPARK_LOGGERS = ("DataFrameQueryContextLogger", "SQLQueryContextLogger")


def quiet_query_loggers() -> None:
    for name in _NOISY_PYSPARK_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def local_shuffle_partitions(master: str) -> int:
    """Shuffle partitions for a local master: two per core it runs (``local[4]``: 8; ``local[*]``:
    2 x the machine's cores), instead of Spark's cluster-sized 200.

    Measured on this 2-core machine, FindMatches over 400 records took 23.7 s with 200 shuffle
    partitions and 11.0 s with 2 (warm session): on small data every one of 200 tiny tasks costs
    scheduling time. Adaptive execution still coalesces partitions that come out small.
    """
    threads = re.fullmatch(r"local(?:\[(\d+|\*)(?:,\d+)?\])?", master)
    given = threads.group(1) if threads else None
    cores = int(given) if given and given != "*" else (os.cpu_count() or 1)
    return max(2, 2 * cores)


def get_session(
    app_name: str = "etl",
    master: str | None = None,
    conf: Mapping[str, str] | None = None,
    *,
    testing: bool = False,
) -> SparkSession:
    """Return the active SparkSession, or build one with the project's defaults.

    Args:
        app_name: Spark application name.
        master: Spark master URL; defaults to ``$ETL_SPARK_MASTER`` or ``local[*]``. Ignored when
            a session is already running (``spark-submit --master`` decides then).
        conf: extra Spark configuration, applied last.
        testing: small-machine settings (UI off, two shuffle partitions).

    Raises:
        JavaNotFoundError: no usable Java runtime.
        JarResolutionError: Delta/Avro jars neither cached nor downloadable.
    """
    quiet_query_loggers()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    check_java()
    master = master or os.environ.get("ETL_SPARK_MASTER") or "local[*]"
    if master.startswith("local"):
        # Local mode talks to itself: bind to loopback instead of guessing a public interface.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Python workers run this interpreter (with pyarrow, for Map/Filter), not `python3` on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name).master(master)
    settings = session_conf(testing=testing, extra=conf)
    if master.startswith("local"):
        settings.setdefault("spark.sql.shuffle.partitions", str(local_shuffle_partitions(master)))
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(os.environ.get("ETL_SPARK_LOG_LEVEL", "WARN"))
    return session
