"""Job definitions (Glue: Job): what to run, with which arguments, limits and retries.

A job is defined in a YAML file in ``conf/jobs/``. The definition sits under a top-level ``job:``
key; anything else in the file is the declarative job spec (sources, steps, sinks, ...), run by
``etl.jobs.spec``. So one file is both::

    # conf/jobs/clean_orders.yaml
    job:
      name: clean_orders            # default: the file name without .yaml
      type: glueetl                 # glueetl (Spark ETL) | pythonshell (no Spark session)
      default_arguments: {--input: data/raw/orders}
      non_overridable_arguments: {--job-bookmark-option: job-bookmark-enable}
      max_retries: 1                # Glue's simple retry; or `retry:` with Step Functions policies
      timeout: 60                   # minutes (Glue's default 2880)
      max_concurrent_runs: 1
      spark_master: local[2]        # default: --master, $ETL_SPARK_MASTER, else Spark's default
      spark_conf: {spark.sql.shuffle.partitions: "8"}
    sources: ...                    # the spec (read by etl.jobs.spec)

A file for a script job holds only ``job:`` with ``script: jobs/x.py``. ``spec:`` may also point at
another spec file. Relative paths are relative to the current directory. Keys may be snake_case
or Glue's PascalCase (``MaxConcurrentRuns``). Definitions are registered in the catalog's
``etl_jobs`` table when they run, so the scheduler and ``etl runs`` know them.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from etl.catalog import Catalog
from etl.catalog.job_models import JobRow
from etl.config import GlueModel, describe_validation_error
from etl.errors import ConfigError
from etl.jobs.arguments import normalize_arguments
from etl.jobs.retry import RetryPolicy, max_retries_policy, validate_policies

log = logging.getLogger("etl.jobs")

JOB_KEY = "job"
DEFAULT_TIMEOUT_MINUTES = 2880.0  # Glue's default: 48 hours
CONF_DIR = Path("conf/jobs")
_NAME = re.compile(r"^[\w\-.]{1,255}$")


class JobDefinition(GlueModel):
    """A job as Glue defines one (CreateJob), with Step Functions retry policies."""

    name: str
    type: Literal["glueetl", "pythonshell"] = "glueetl"
    description: str | None = None
    script: str | None = None
    spec: str | None = None
    default_arguments: dict[str, str] = Field(default_factory=dict)
    non_overridable_arguments: dict[str, str] = Field(default_factory=dict)
    max_retries: int = Field(0, ge=0)
    timeout: float = Field(DEFAULT_TIMEOUT_MINUTES, gt=0)  # minutes; may be fractional locally
    max_concurrent_runs: int = Field(1, ge=1)
    spark_master: str | None = None
    spark_conf: dict[str, str] = Field(default_factory=dict)
    retry: list[RetryPolicy] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(f"job name {name!r} is invalid (1-255 letters, digits, _ - .)")
        return name

    @field_validator("default_arguments", "non_overridable_arguments", mode="before")
    @classmethod
    def _arguments(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value  # pydantic reports the type
        return normalize_arguments(value)

    @field_validator("spark_conf", mode="before")
    @classmethod
    def _spark_conf(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {str(k): (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in value.items()}

    @model_validator(mode="after")
    def _consistent(self) -> JobDefinition:
        if (self.script is None) == (self.spec is None):
            raise ValueError("a job needs exactly one of script (a Python file) or spec (a YAML job spec)")
        if self.spec is not None and self.type != "glueetl":
            raise ValueError("a YAML job spec runs on Spark: its type must be glueetl")
        if self.retry and self.max_retries:
            raise ValueError("give either max_retries (Glue's simple retry) or retry policies, not both")
        validate_policies(self.retry)
        return self

    def policies(self) -> list[RetryPolicy]:
        """The retry policies in force: ``retry``, or ``max_retries`` as one policy."""
        if self.retry:
            return list(self.retry)
        return [max_retries_policy(self.max_retries)] if self.max_retries else []

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=False)


class _JobFile(GlueModel):
    model_config = ConfigDict(extra="allow")  # the spec's keys sit beside `job:`
    job: JobDefinition


def _resolved(value: str, source: Path, key: str) -> str:
    path = Path(value).expanduser()
    if not path.exists():
        raise ConfigError(f"{source}: {key}: {value} does not exist (relative paths start at {Path.cwd()})")
    return str(path.resolve())


def load_job_file(path: str | Path) -> JobDefinition:
    """Load the definition in ``conf/jobs/<name>.yaml`` (see the module docs for the layout).

    Raises:
        ConfigError: unreadable YAML, an invalid definition, a missing script or spec, or a script
            job with spec keys beside it; the message names the file and the key.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    section = data.get(JOB_KEY, data.get("Job", {})) or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: {JOB_KEY}: expected a mapping of job settings")
    section = dict(section)
    spec_keys = sorted(str(k) for k in data if k not in (JOB_KEY, "Job"))
    has = {k.lower() for k in section}
    if "name" not in has:
        section["name"] = path.stem
    if spec_keys:
        if "script" in has or "spec" in has:
            raise ConfigError(
                f"{path}: {JOB_KEY}: has script/spec but the file also holds spec keys ({', '.join(spec_keys)}); "
                "a file is either a script job's definition or a YAML job spec"
            )
        section["spec"] = str(path.resolve())
    try:
        definition = _JobFile.model_validate({JOB_KEY: section}).job
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(str(path), exc)) from None
    if definition.script is not None:
        definition.script = _resolved(definition.script, path, f"{JOB_KEY}.script")
    elif definition.spec != str(path.resolve()):
        definition.spec = _resolved(str(definition.spec), path, f"{JOB_KEY}.spec")
    return definition


def script_definition(script: str | Path, *, name: str | None = None, job_type: str = "glueetl") -> JobDefinition:
    """An ad-hoc definition for ``etl run jobs/x.py`` (name: the file name without ``.py``).

    Raises:
        ConfigError: the script does not exist.
    """
    path = Path(script)
    if not path.is_file():
        raise ConfigError(f"{script}: script not found")
    return JobDefinition(name=name or path.stem, type=job_type, script=str(path.resolve()))  # type: ignore[arg-type]


def _conf_files(conf_dir: Path) -> list[Path]:
    return sorted([*conf_dir.glob("*.yaml"), *conf_dir.glob("*.yml")]) if conf_dir.is_dir() else []


def _raw_job_section(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        log.warning("%s: not read while looking for job definitions: %s", path, exc)
        return {}
    section = data.get(JOB_KEY, data.get("Job")) if isinstance(data, dict) else None
    return section if isinstance(section, dict) else {}


def find_script_definitions(script: str | Path, conf_dir: Path = CONF_DIR) -> list[Path]:
    """The files in ``conf_dir`` whose ``job.script`` is ``script``."""
    target = Path(script).resolve()
    found = []
    for path in _conf_files(conf_dir):
        section = _raw_job_section(path)
        value = section.get("script", section.get("Script"))
        if isinstance(value, str) and Path(value).expanduser().resolve() == target:
            found.append(path)
    return found


def _script_job(script: Path, job_name: str | None, conf_dir: Path) -> JobDefinition:
    files = find_script_definitions(script, conf_dir)
    definitions = [load_job_file(f) for f in files]
    if job_name:
        named = [d for d in definitions if d.name == job_name]
        if named:
            return named[0]
    if len(definitions) > 1:
        names = ", ".join(f"{d.name} ({f})" for d, f in zip(definitions, files, strict=True))
        raise ConfigError(f"{script}: several job definitions run this script: {names}; choose one with --job NAME")
    return definitions[0] if definitions else script_definition(script, name=job_name)


def find_named_definition(name: str, conf_dir: Path = CONF_DIR) -> JobDefinition | None:
    """The definition in ``conf_dir`` named ``name`` (file ``<name>.yaml`` or ``job.name: <name>``)."""
    for path in _conf_files(conf_dir):
        section = _raw_job_section(path)
        declared = section.get("name", section.get("Name", path.stem))
        if declared == name:
            return load_job_file(path)
    return None


def resolve_job(
    target: str, *, job_name: str | None = None, conf_dir: Path = CONF_DIR, catalog: Catalog | None = None
) -> JobDefinition:
    """The definition ``etl run TARGET`` runs.

    ``TARGET`` is a job file (``conf/jobs/x.yaml``), a script (``jobs/x.py``: the ``conf/jobs``
    definition naming that script, else a glueetl job named after the file), or a job name (a
    definition in ``conf/jobs``, else one registered in the catalog). ``job_name`` renames the job.

    Raises:
        ConfigError: the target is neither an existing file nor a known job, or its definition is invalid.
    """
    path = Path(target)
    if path.suffix in (".yaml", ".yml"):
        definition = load_job_file(path)
    elif path.suffix == ".py":
        definition = _script_job(path, job_name, conf_dir)
    else:
        definition = find_named_definition(target, conf_dir)
        if definition is None and catalog is not None:
            definition = registered_job(catalog, target)
        if definition is None:
            raise ConfigError(
                f"{target}: not a job file (.yaml), a script (.py), a job in {conf_dir}/ nor a registered job"
            )
    if job_name and job_name != definition.name:
        definition = JobDefinition.model_validate({**definition.to_json(), "name": job_name})
    return definition


def register_job(catalog: Catalog, definition: JobDefinition) -> None:
    """Insert or update the definition in the catalog's ``etl_jobs`` table."""
    now = datetime.now(UTC)
    document = definition.to_json()
    for _ in range(2):  # two processes may insert the same new job at once; the loser updates
        try:
            with catalog._session() as s:
                row = s.get(JobRow, definition.name)
                if row is None:
                    s.add(JobRow(name=definition.name, definition=document, create_time=now, update_time=now))
                elif row.definition != document:
                    row.definition, row.update_time = document, now
            return
        except IntegrityError:
            continue


def registered_job(catalog: Catalog, name: str) -> JobDefinition | None:
    """The definition registered as ``name``, or None."""
    with catalog._session() as s:
        row = s.get(JobRow, name)
        document = dict(row.definition) if row is not None else None
    if document is None:
        return None
    try:
        return JobDefinition.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(f"etl_jobs[{name}]", exc)) from None


def registered_jobs(catalog: Catalog) -> list[str]:
    """Names of the registered jobs, sorted."""
    with catalog._session() as s:
        return list(s.scalars(select(JobRow.name).order_by(JobRow.name)))
