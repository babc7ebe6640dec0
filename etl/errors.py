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
