"""One exception hierarchy for the whole project.

Every error the library raises on purpose derives from :class:`EtlError`, so callers can catch
one type; sub-types say which layer failed and carry enough context (file, key, counts) to act on.
"""

from __future__ import annotations


class EtlError(Exception):
    """Base of every error raised by this project."""


class SetupError(EtlError):
    """The environment is not ready: Java missing, jars not resolved, bad install."""


class JavaNotFoundError(SetupError):
    """No usable Java runtime (Spark 4 needs Java 17 or 21)."""


class JarResolutionError(SetupError):
    """Spark packages could not be fetched from Maven Central or found in the cache."""


class ConfigError(EtlError):
    """A spec, argument or option is invalid; the message names the file and key."""


class DataSourceError(EtlError):
    """A source could not be read: missing path, unknown format, bad option."""


class DataSinkError(EtlError):
    """A write failed; the previous output is left as it was."""


class CatalogError(EtlError):
    """Base for catalog failures."""


class EntityNotFoundError(CatalogError):
    """A database, table, partition or version does not exist (Glue: EntityNotFoundException)."""


class AlreadyExistsError(CatalogError):
    """The database, table or partition exists already (Glue: AlreadyExistsException)."""


class ConcurrentModificationError(CatalogError):
    """Someone else committed first; nothing was changed (Glue: ConcurrentModificationException).

    Re-read the entity and retry the update on the new version.
    """


class InvalidInputError(CatalogError):
    """A catalog call's input is malformed (Glue: InvalidInputException)."""


class ClassificationError(EtlError):
    """A file could not be read or classified (corrupt, truncated, unknown codec)."""


class SchemaError(EtlError):
    """Schemas cannot be parsed or merged."""


class TransformError(EtlError):
    """A transform was called wrongly or could not run."""


class ErrorThresholdExceededError(TransformError):
    """More error records than a stage or total threshold allows."""

    def __init__(self, stage: str, kind: str, count: int, threshold: int) -> None:
        self.stage = stage
        self.kind = kind
        self.count = count
        self.threshold = threshold
        super().__init__(
            f"{stage}: {count} {kind} error record(s) exceed the {kind} threshold of {threshold}"
        )


class JobError(EtlError):
    """A job run failed or could not start."""


def spark_error_summary(exc: BaseException) -> str:
    """The informative line of a Spark/py4j error: the error class and message, not the
    'An error occurred while calling o80.collectToPython' wrapper."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    for line in lines:
        if "Exception: " in line and not line.startswith("at "):
            return line.split("Exception: ", 1)[1]
    return lines[0] if lines else type(exc).__name__


class LabelFileError(TransformError):
    """A FindMatches label file is malformed; the message names the file and the line or column."""

    def __init__(self, path: str, message: str, *, line: int | None = None) -> None:
        self.path = path
        self.line = line
        super().__init__(f"{path}, line {line}: {message}" if line is not None else f"{path}: {message}")


class LabelConflictError(TransformError):
    """Two labeling sets disagree on whether a pair of records match."""


class ConcurrentRunsExceededError(JobError):
    """A job already has ``max_concurrent_runs`` active runs (Glue: ConcurrentRunsExceededException).

    ``run_ids`` are the active runs; ``details`` describe them (state, start, process) for the message.
    """

    def __init__(self, job_name: str, limit: int, run_ids: list[str], details: list[str] | None = None) -> None:
        self.job_name = job_name
        self.limit = limit
        self.run_ids = run_ids
        described = "; ".join(details or run_ids)
        super().__init__(
            f"job {job_name}: max_concurrent_runs is {limit} and {len(run_ids)} run(s) are active: {described}. "
            "Wait for them to finish, stop them, or raise max_concurrent_runs"
        )


class DataQualityError(JobError):
    """A data-quality rule with ``action: fail`` did not hold; nothing was written to the sinks.

    ``results`` holds every rule's result (the failed ones and the others), as recorded with the run.
    """

    def __init__(self, message: str, results: list[dict]) -> None:
        self.results = results
        super().__init__(message)


class WorkflowError(EtlError):
    """A workflow run could not start, resume or be found (Glue: IllegalWorkflowStateException)."""


class WorkflowRunningError(WorkflowError):
    """The workflow already has as many RUNNING runs as it allows; names them."""

    def __init__(self, workflow_name: str, limit: int, run_ids: list[str]) -> None:
        self.workflow_name = workflow_name
        self.limit = limit
        self.run_ids = run_ids
        super().__init__(
            f"workflow {workflow_name}: {len(run_ids)} run(s) still RUNNING ({', '.join(run_ids)}) and at most "
            f"{limit} may run at once; wait for them to finish"
        )
