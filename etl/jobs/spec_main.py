"""Driver for YAML job specs: ``spark-submit etl/jobs/spec_main.py --spec PATH --JOB_NAME x [--k v ...]``
or ``python -m etl.jobs.spec_main ...`` (same arguments).

Arguments are Glue's ``--name value`` / ``--name=value`` pairs (dashes in names become
underscores); ``--spec`` and ``--JOB_NAME`` are required, ``--JOB_RUN_ID`` joins a run row the
runner created, the bookmark options go to ``Job.init``, and every argument can fill a
``${name}`` placeholder of the spec.

The last line of stdout is always ``ETL_RUN_METRICS {json}``: job, run id, spec, state
(SUCCEEDED or FAILED), seconds, the metrics of :func:`etl.jobs.spec_runner.run_spec`
(sources, steps, quality, data_quality, sinks) and, on failure, ``error`` and ``error_type``.

Exit status: 0 on success; 2 when the arguments or the spec are invalid (no run was started);
1 when the run failed: its traceback goes to stderr, the run is marked FAILED with the error
(``Job.fail``; nothing is committed, so the bookmark does not advance), then the metrics line is
printed. spark-submit merges a Python driver's stderr into stdout, so nothing is logged after it.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder would be sys.path[0] and its modules (args, job, spec, ...) would
# shadow top-level modules of the same names.
if __name__ == "__main__" and sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import json  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import Any  # noqa: E402

from etl.errors import ConfigError, EtlError, spark_error_summary  # noqa: E402
from etl.jobs.args import getResolvedOptions  # noqa: E402

METRICS_PREFIX = "ETL_RUN_METRICS "
REQUIRED = ("spec", "JOB_NAME")


def parse_arguments(argv: Sequence[str]) -> dict[str, str]:
    """Every ``--name value`` / ``--name=value`` pair of ``argv`` (``argv[0]`` is the program),
    checked by :func:`getResolvedOptions` for ``--spec``, ``--JOB_NAME`` and the reserved options.

    Raises:
        ConfigError: a required argument is missing, a token is not ``--name``, or a name has no value.
    """
    options: dict[str, str] = {}
    tokens = list(argv[1:])
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--") or token == "--":
            raise ConfigError(f"job arguments: expected --name value pairs, got {token!r}")
        name, eq, value = token[2:].partition("=")
        if not eq:
            if i + 1 >= len(tokens):
                raise ConfigError(f"job arguments: --{name} has no value")
            value = tokens[i + 1]
            i += 1
        options[name.replace("-", "_")] = value
        i += 1
    resolved = getResolvedOptions(argv, list(REQUIRED))
    return {**options, **resolved}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the spec named by ``--spec``; see the module docstring for the output and exit status."""
    argv = list(sys.argv if argv is None else argv)
    started = time.perf_counter()
    summary: dict[str, Any] = {"job": None, "run_id": None, "spec": None, "state": "FAILED"}
    spark = None
    failure: BaseException | None = None
    job = None
    try:
        from etl.jobs.spec import load_spec

        args = parse_arguments(argv)
        summary.update(job=args["JOB_NAME"], spec=args["spec"], run_id=args.get("JOB_RUN_ID"))
        spec = load_spec(args["spec"], args)

        from pyspark.sql import SparkSession

        from etl.context import GlueContext
        from etl.jobs.job import Job
        from etl.jobs.spec_runner import run_spec
        from etl.session import get_session

        owned = SparkSession.getActiveSession() is None
        session = get_session(app_name=args["JOB_NAME"])
        spark = session if owned else None
        glue = GlueContext(session)
        job = Job(glue)
        job.init(args["JOB_NAME"], args)
        run_id = args.get("JOB_RUN_ID") or getattr(job, "run_id", None)
        summary["run_id"] = run_id
        run_spec(spec, glue, {**args, "JOB_RUN_ID": run_id} if run_id else args, metrics=summary)
        job.commit()
        summary["state"] = "SUCCEEDED"
    except Exception as exc:  # reported on the metrics line and in the exit status
        failure = exc
        summary["error_type"] = type(exc).__name__
        notes = "; ".join(getattr(exc, "__notes__", []))
        message = str(exc) if isinstance(exc, EtlError) else spark_error_summary(exc)
        summary["error"] = f"{message} ({notes})" if notes else message
        if job is not None and job.name is not None:
            traceback.print_exc()
            try:
                job.fail(f"{summary['error_type']}: {summary['error']}")
            except Exception as record_error:  # the run row's process check will still catch it
                print(f"could not mark run {summary['run_id']} FAILED: {record_error}", file=sys.stderr)
        else:
            print(f"error: {summary['error']}", file=sys.stderr)
    finally:
        summary["seconds"] = round(time.perf_counter() - started, 3)
        if spark is not None:
            spark.stop()
        sys.stderr.flush()
        print(METRICS_PREFIX + json.dumps(summary, default=str), flush=True)
    if failure is None:
        return 0
    return 2 if isinstance(failure, ConfigError) and (job is None or job.name is None) else 1


if __name__ == "__main__":
    sys.exit(main())
