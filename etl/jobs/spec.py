"""YAML job specs (``conf/jobs/*.yaml``): sources, steps, data-quality rules and sinks.

A spec is validated when it is loaded: unknown keys, unknown transforms, arguments a transform
does not take, inputs that name nothing earlier in the spec and ``${name}`` placeholders without
a run argument are all reported with the file, the key path and what was expected. Keys may be
written in snake_case or in Glue's PascalCase; a few Glue option spellings (``partitionKeys``,
``enableUpdateCatalog``) are accepted where Glue uses them.

Layout::

    job: {...}                # the job definition (etl.jobs.definition); not read here
    sources:
      raw: {path: ${input_path}, format: csv, format_options: {withHeader: true}}
      customers: {catalog: {database: sales, table: customers}, push_down_predicate: "year = 2024"}
    steps:
      - {name: typed, transform: ApplyMapping, input: raw, args: {mappings: [[a, string, a, int]]}}
      - {name: recent, transform: Filter, condition: "a > 10"}       # input: the previous step
      - {name: joined, transform: Join, input: [recent, customers], args: {keys1: [a], keys2: [a]}}
    quality:
      input: joined           # default: the last step
      quarantine_path: ${output_path}/quarantine
      rules: [{rule: not_null, column: a, action: fail}]
    sinks:
      out: {input: joined, path: ${output_path}/out, format: parquet, partition_keys: [a]}
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    AliasChoices,
    AliasGenerator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_pascal
from pydantic_core import InitErrorDetails, PydanticCustomError

from etl.config import GlueModel, parse_model
from etl.errors import ConfigError, TransformError
from etl.io.formats import canonical_format

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
RULE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
PLACEHOLDER = re.compile(r"\$\$|\$\{([^}:]*)(?::-([^}]*))?\}")
FRAME_PARAMS = ("frame", "frame1", "frame2", "dfc")
SINK_FORMATS = ("parquet", "delta", "csv", "json")
ROW_RULES = ("not_null", "unique", "between", "in_set")
TABLE_RULES = ("row_count", "schema")


class SpecModel(GlueModel):
    """GlueModel whose errors name keys in snake_case (PascalCase is still accepted)."""

    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=lambda name: AliasChoices(name, to_pascal(name))),
        populate_by_name=True,
        extra="forbid",
    )


def _glue(*names: str) -> AliasChoices:
    """Accept a field under its snake_case name, Glue's PascalCase and Glue's camelCase option name."""
    return AliasChoices(*names)


def _raise_at(title: str, problems: list[tuple[tuple[str | int, ...], str, Any]]) -> None:
    """Raise one ValidationError whose errors sit at the given key paths (relative to the model)."""
    if problems:
        details = [
            InitErrorDetails(type=PydanticCustomError("spec", "{message}", {"message": msg}), loc=loc, input=value)
            for loc, msg, value in problems
        ]
        raise ValidationError.from_exception_data(title, details)


# ----- transforms ----------------------------------------------------------------------------
@dataclass(frozen=True)
class TransformShape:
    """What a registered transform takes: its input frames and its other arguments.

    Parameters typed ``DynamicFrame`` (``frame``, ``frame1``/``frame2``, ``existingFrame``) or
    ``DynamicFrameCollection`` (``dfc``) without a default are the step's inputs, in order;
    optional ``DynamicFrame`` parameters (``enforcedMatches``) are args naming a frame.
    """

    name: str
    frame_params: tuple[str, ...]
    takes_collection: bool
    frame_args: tuple[str, ...]
    required: tuple[str, ...]
    accepted: frozenset[str] | None  # None: the transform takes **kwargs
    functions: tuple[str, ...]  # required arguments that must be Python functions
    returns_collection: bool


def _annotation(param: inspect.Parameter) -> str:
    ann = param.annotation
    if ann is param.empty:
        return ""
    return ann if isinstance(ann, str) else getattr(ann, "__name__", str(ann))


def _is_input(param: inspect.Parameter) -> bool:
    if param.default is not param.empty or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
        return False
    ann = _annotation(param)
    return ann in ("DynamicFrame", "DynamicFrameCollection") or (not ann and param.name in FRAME_PARAMS)


def transform_shape(name: str) -> TransformShape:
    """Introspect the registered transform ``name`` (raises TransformError when unknown)."""
    from etl.transforms.base import get_transform

    cls = get_transform(name)
    params = list(inspect.signature(cls.__call__).parameters.values())[1:]
    inputs = [p for p in params if _is_input(p)]
    others = [p for p in params if p not in inputs and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    required = tuple(p.name for p in others if p.default is p.empty and p.name != "transformation_ctx")
    ret = inspect.signature(cls.__call__).return_annotation
    return TransformShape(
        name=name,
        frame_params=tuple(p.name for p in inputs),
        takes_collection=[_annotation(p) for p in inputs] == ["DynamicFrameCollection"]
        or [p.name for p in inputs] == ["dfc"],
        frame_args=tuple(p.name for p in others if "DynamicFrame" in _annotation(p) and p.default is not p.empty),
        required=required,
        accepted=None if any(p.kind is p.VAR_KEYWORD for p in params) else frozenset(p.name for p in others),
        functions=tuple(p.name for p in others if p.name in required and "Callable" in _annotation(p)),
        returns_collection="DynamicFrameCollection" in (ret if isinstance(ret, str) else getattr(ret, "__name__", "")),
    )


def known_transforms() -> list[str]:
    from etl.transforms.base import registered_transforms

    return sorted(registered_transforms())


# ----- sources -------------------------------------------------------------------------------
class CatalogRef(SpecModel):
    """A Data Catalog table."""

    database: str = Field(min_length=1)
    table: str = Field(min_length=1)


class SourceSpec(SpecModel):
    """A file path (``path`` + ``format``) or a catalog table (``catalog``)."""

    path: str | list[str] | None = Field(default=None, validation_alias=_glue("path", "Path", "paths", "Paths"))
    format: str | None = None
    format_options: dict[str, Any] = Field(
        default_factory=dict, validation_alias=_glue("format_options", "FormatOptions", "formatOptions")
    )
    recurse: bool = False
    exclusions: list[str] = Field(default_factory=list)
    catalog: CatalogRef | None = None
    push_down_predicate: str | None = Field(
        default=None, validation_alias=_glue("push_down_predicate", "PushDownPredicate", "pushDownPredicate")
    )
    additional_options: dict[str, Any] = Field(
        default_factory=dict, validation_alias=_glue("additional_options", "AdditionalOptions", "additionalOptions")
    )
    transformation_ctx: str | None = Field(
        default=None, validation_alias=_glue("transformation_ctx", "TransformationCtx", "transformationCtx")
    )

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return canonical_format(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _one_kind(self) -> SourceSpec:
        if (self.path is None) == (self.catalog is None):
            raise ValueError("a source needs either path (with format) or catalog: {database, table}, not both")
        if self.catalog is not None:
            extra = [k for k in ("format", "recurse", "exclusions") if k in self.model_fields_set]
            if extra or self.format_options:
                remove = extra or ["format_options"]
                raise ValueError(f"a catalog source takes its format from the table; remove {remove}")
        elif self.format is None:
            raise ValueError("a path source needs format (one of csv, json, parquet, orc, avro, xml, delta, text)")
        elif self.additional_options:
            raise ValueError("additional_options is for catalog sources (e.g. catalogPartitionPredicate)")
        return self

    @property
    def paths(self) -> list[str]:
        if self.path is None:
            return []
        return [self.path] if isinstance(self.path, str) else list(self.path)


# ----- steps ---------------------------------------------------------------------------------
class StepSpec(SpecModel):
    """One transform: ``{name, transform, input, args}``; ``Filter`` takes a SQL ``condition``."""

    name: str
    transform: str
    input: str | list[str] | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    condition: str | None = None
    transform_id: str | None = Field(default=None, validation_alias=_glue("transform_id", "TransformId", "transformId"))
    transformation_ctx: str | None = Field(
        default=None, validation_alias=_glue("transformation_ctx", "TransformationCtx", "transformationCtx")
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(
                f"step name {value!r} must be letters, digits, '_' or '-' (no dots), starting with a letter"
            )
        return value

    @field_validator("transform")
    @classmethod
    def _known(cls, value: str, info: Any) -> str:
        try:
            transform_shape(value)
        except TransformError:
            step = info.data.get("name", "?")
            raise ValueError(
                f"step {step!r}: unknown transform {value!r}; known transforms: {', '.join(known_transforms())}"
            ) from None
        return value

    @model_validator(mode="after")
    def _arguments(self) -> StepSpec:
        shape = transform_shape(self.transform)
        problems: list[tuple[tuple[str | int, ...], str, Any]] = []
        step = f"step {self.name!r}"
        if self.transform == "Filter":
            if self.condition is None:
                problems.append(
                    (
                        ("condition",),
                        f"{step}: Filter needs condition: a SQL boolean expression "
                        '(e.g. "quantity > 0 AND region IS NOT NULL")',
                        None,
                    )
                )
            if self.args:
                problems.append((("args",), f"{step}: Filter in a spec takes condition, not args", self.args))
        elif self.condition is not None:
            problems.append((("condition",), f"{step}: condition is only for the Filter transform", self.condition))
        if self.transform_id is not None and "FindMatches" not in self.transform:
            problems.append(
                (("transform_id",), f"{step}: transform_id is only for FindMatches transforms", self.transform_id)
            )
        if self.transform != "Filter":
            problems += self._check_args(shape)
        _raise_at("StepSpec", problems)
        return self

    def _check_args(self, shape: TransformShape) -> list[tuple[tuple[str | int, ...], str, Any]]:
        step = f"step {self.name!r} ({self.transform})"
        problems: list[tuple[tuple[str | int, ...], str, Any]] = []
        if shape.functions:
            problems.append(
                (
                    ("transform",),
                    f"{step} takes a Python function ({', '.join(shape.functions)}) and "
                    "cannot run from a YAML spec; write a jobs/ script instead",
                    self.transform,
                )
            )
            return problems
        for key, value in self.args.items():
            if key in shape.frame_params:
                problems.append((("args", key), f"{step}: the frame comes from input, not args", value))
            elif key in shape.frame_args and not isinstance(value, str):
                problems.append((("args", key), f"{step}: {key} names a frame (a source or an earlier step)", value))
            elif key == "transformation_ctx":
                problems.append((("args", key), f"{step}: set transformation_ctx on the step, not in args", value))
            elif shape.accepted is not None and key not in shape.accepted:
                allowed = ", ".join(sorted(shape.accepted - {"transformation_ctx"})) or "none"
                problems.append((("args", key), f"{step} takes no argument {key!r}; it takes: {allowed}", value))
        given = set(self.call_args())
        missing = [k for k in shape.required if k not in given]
        if missing:
            problems.append((("args",), f"{step}: missing argument(s) {', '.join(missing)}", self.args))
        return problems

    def call_args(self) -> dict[str, Any]:
        """The transform's keyword arguments (``transform_id`` becomes Glue's ``transformId``)."""
        args = dict(self.args)
        if self.transform_id is not None:
            args.setdefault("transformId", self.transform_id)
        return args

    @property
    def inputs(self) -> list[str]:
        if self.input is None:
            return []
        return [self.input] if isinstance(self.input, str) else list(self.input)

    @property
    def ctx(self) -> str:
        return self.transformation_ctx or self.name


# ----- data quality --------------------------------------------------------------------------
Bound = int | float | date | datetime | str


class QualityRule(SpecModel):
    """One rule: ``not_null``, ``unique``, ``between`` (min/max), ``in_set`` (values) on a column;
    ``row_count`` (min/max) or ``schema`` (columns: {name: type}) on the table. ``action``: fail,
    warn or quarantine (row rules only). ``mostly`` (0..1] is the fraction of non-null rows that
    must pass, as in great-expectations; quarantine moves every failing row whatever ``mostly`` says."""

    name: str | None = None
    rule: Literal["not_null", "unique", "between", "in_set", "row_count", "schema"]
    column: str | None = None
    min: Bound | None = None
    max: Bound | None = None
    values: list[Any] | None = None
    columns: dict[str, str] | None = None
    exact: bool = True
    mostly: float = Field(default=1.0, gt=0, le=1)
    action: Literal["fail", "warn", "quarantine"] = "fail"

    @model_validator(mode="after")
    def _fields_for_rule(self) -> QualityRule:
        kind = self.rule
        needs_column = kind in ROW_RULES
        if needs_column and not self.column:
            raise ValueError(f"rule {kind} needs column")
        if not needs_column and self.column:
            raise ValueError(f"rule {kind} is about the whole table; remove column")
        if kind in ("between", "row_count") and self.min is None and self.max is None:
            raise ValueError(f"rule {kind} needs min, max or both")
        if kind not in ("between", "row_count") and (self.min is not None or self.max is not None):
            raise ValueError(f"min/max are for between and row_count, not {kind}")
        if kind == "row_count" and any(v is not None and not isinstance(v, int) for v in (self.min, self.max)):
            raise ValueError("row_count min/max must be whole numbers")
        if isinstance(self.min, (int, float)) and isinstance(self.max, (int, float)) and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        if (kind == "in_set") != (self.values is not None):
            raise ValueError("values (the allowed values) is for in_set, and in_set needs it")
        if (kind == "schema") != (self.columns is not None):
            raise ValueError("columns ({name: spark type}) is for schema, and schema needs it")
        if kind == "schema" and not self.columns:
            raise ValueError("schema needs at least one column")
        if kind in TABLE_RULES and self.action == "quarantine":
            raise ValueError(f"action quarantine moves failing rows; {kind} is a table rule: use fail or warn")
        if self.name is None:
            self.name = f"{kind}_{self.column}" if self.column else kind
        if not RULE_NAME.match(self.name):
            raise ValueError(f"rule name {self.name!r} must be letters, digits, '_', '-' or '.' (it names a folder)")
        return self


class QualitySpec(SpecModel):
    """The rules checked on one frame (``input``, default the last step) before anything is written."""

    input: str | None = None
    quarantine_path: str | None = Field(
        default=None, validation_alias=_glue("quarantine_path", "QuarantinePath", "quarantinePath")
    )
    rules: list[QualityRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _names(self) -> QualitySpec:
        problems: list[tuple[tuple[str | int, ...], str, Any]] = []
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            if rule.name in seen:
                problems.append(
                    (("rules", i, "name"), f"rule name {rule.name!r} is used twice; give one a name", rule.name)
                )
            seen.add(rule.name or "")
        if any(r.action == "quarantine" for r in self.rules) and not self.quarantine_path:
            problems.append((("quarantine_path",), "rules with action quarantine need quarantine_path", None))
        _raise_at("QualitySpec", problems)
        return self


# ----- sinks ---------------------------------------------------------------------------------
class SinkSpec(SpecModel):
    """A path (``path`` + ``format``) or a catalog table (``catalog``, with ``path`` + ``format``
    too when the table may not exist yet: it is created with ``enable_update_catalog``)."""

    input: str | None = None
    path: str | None = None
    format: str | None = None
    format_options: dict[str, Any] = Field(
        default_factory=dict, validation_alias=_glue("format_options", "FormatOptions", "formatOptions")
    )
    partition_keys: list[str] = Field(
        default_factory=list, validation_alias=_glue("partition_keys", "PartitionKeys", "partitionKeys")
    )
    mode: Literal["append", "overwrite", "error", "errorifexists", "ignore"] = "append"
    partition_overwrite_mode: Literal["static", "dynamic"] = Field(
        default="static",
        validation_alias=_glue("partition_overwrite_mode", "PartitionOverwriteMode", "partitionOverwriteMode"),
    )
    compression: str | None = None
    primary_keys: list[str] = Field(
        default_factory=list, validation_alias=_glue("primary_keys", "PrimaryKeys", "primaryKeys")
    )
    catalog: CatalogRef | None = None
    enable_update_catalog: bool = Field(
        default=False, validation_alias=_glue("enable_update_catalog", "EnableUpdateCatalog", "enableUpdateCatalog")
    )
    update_behavior: Literal["UPDATE_IN_DATABASE", "LOG"] = Field(
        default="UPDATE_IN_DATABASE", validation_alias=_glue("update_behavior", "UpdateBehavior", "updateBehavior")
    )
    transformation_ctx: str | None = Field(
        default=None, validation_alias=_glue("transformation_ctx", "TransformationCtx", "transformationCtx")
    )

    @field_validator("format")
    @classmethod
    def _sink_format(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            name = canonical_format(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        if name not in SINK_FORMATS:
            raise ValueError(f"sinks write {', '.join(SINK_FORMATS)}; got {value!r}")
        return name

    @model_validator(mode="after")
    def _one_kind(self) -> SinkSpec:
        if self.catalog is None:
            if not self.path or not self.format:
                raise ValueError("a sink needs path and format (parquet, delta, csv, json), or catalog")
            if self.enable_update_catalog:
                raise ValueError("enable_update_catalog needs catalog: {database, table}")
        elif (self.path is None) != (self.format is None):
            raise ValueError("a catalog sink takes both path and format (to create the table) or neither")
        elif self.path is not None and not self.enable_update_catalog:
            raise ValueError("a catalog sink with a path writes there and registers it: set enable_update_catalog")
        if self.primary_keys and self.format not in (None, "delta"):
            raise ValueError("primary_keys (upsert) needs format delta")
        return self


# ----- the spec ------------------------------------------------------------------------------
class JobSpec(SpecModel):
    """A YAML job: sources, steps, quality rules and sinks (see the module docstring)."""

    job: dict[str, Any] | None = None
    description: str = ""
    sources: dict[str, SourceSpec] = Field(min_length=1)
    steps: list[StepSpec] = Field(default_factory=list)
    quality: QualitySpec | None = None
    sinks: dict[str, SinkSpec] = Field(min_length=1)
    _source_file: str = PrivateAttr(default="spec")

    @property
    def source_file(self) -> str:
        """The file the spec was loaded from (``"spec"`` when built in code)."""
        return self._source_file

    @model_validator(mode="after")
    def _graph(self) -> JobSpec:
        problems: list[tuple[tuple[str | int, ...], str, Any]] = []
        frames: dict[str, bool] = {}  # name -> returns a collection
        for name in self.sources:
            if not NAME.match(name):
                problems.append((("sources", name), f"source name {name!r} must be letters, digits, '_' or '-'", name))
            frames[name] = False
        previous: str | None = next(iter(self.sources)) if len(self.sources) == 1 else None
        for i, step in enumerate(self.steps):
            if step.name in frames:
                problems.append(
                    (("steps", i, "name"), f"step name {step.name!r} is already a source or step name", step.name)
                )
                continue
            shape = transform_shape(step.transform)
            problems += self._check_inputs(i, step, shape, frames, previous)
            frames[step.name] = shape.returns_collection
            previous = step.name
        last = previous
        if self.quality is not None:
            if self.quality.input is None:
                self.quality.input = last
            problems += _frame_ref(("quality", "input"), "quality", self.quality.input, frames)
        for name, sink in self.sinks.items():
            if sink.input is None:
                sink.input = self.quality.input if self.quality is not None else last
            problems += _frame_ref(("sinks", name, "input"), f"sink {name!r}", sink.input, frames)
        _raise_at("JobSpec", problems)
        return self

    def _check_inputs(
        self, i: int, step: StepSpec, shape: TransformShape, frames: dict[str, bool], previous: str | None
    ) -> list[tuple[tuple[str | int, ...], str, Any]]:
        loc: tuple[str | int, ...] = ("steps", i, "input")
        label = f"step {step.name!r} ({step.transform})"
        if step.input is None:
            if previous is None:
                return [(loc, f"{label}: input is required (the sources are {', '.join(self.sources)})", None)]
            step.input = previous
        inputs = step.inputs
        takes_collection = shape.takes_collection
        want = len(shape.frame_params)
        if takes_collection:
            if not inputs:
                return [(loc, f"{label}: input names a collection step or a list of frames", step.input)]
        elif len(inputs) != want:
            return [
                (
                    loc,
                    f"{label} takes {want} input frame(s) ({', '.join(shape.frame_params)}), "
                    f"got {len(inputs)}: {inputs}",
                    step.input,
                )
            ]
        problems = []
        for ref in inputs:
            whole_collection = takes_collection and len(inputs) == 1 and frames.get(ref, False)
            if not whole_collection:
                problems += _frame_ref(loc, label, ref, frames)
        for key in shape.frame_args:
            ref = step.args.get(key)
            if isinstance(ref, str):
                problems += _frame_ref(("steps", i, "args", key), f"{label} {key}", ref, frames)
        return problems

    def frame_names(self) -> list[str]:
        return [*self.sources, *(s.name for s in self.steps)]


def _frame_ref(
    loc: tuple[str | int, ...], label: str, ref: str | None, frames: dict[str, bool]
) -> list[tuple[tuple[str | int, ...], str, Any]]:
    """Check that ``ref`` names a frame defined earlier: a source, a step, or ``step.key`` of a
    step returning a collection."""
    known = ", ".join(frames) or "none"
    if ref is None:
        return [(loc, f"{label}: input is required (sources and steps: {known})", None)]
    base, dot, key = ref.partition(".")
    if base not in frames:
        return [(loc, f"{label} reads {ref!r}, which is neither a source nor an earlier step (known: {known})", ref)]
    if dot and not frames[base]:
        return [(loc, f"{label} reads {ref!r}, but {base!r} is a frame, not a collection", ref)]
    if not dot and frames[base]:
        return [(loc, f"{label} reads {ref!r}, which returns a collection; name one frame as '{base}.<key>'", ref)]
    if dot and not key:
        return [(loc, f"{label} reads {ref!r}: the collection key is empty", ref)]
    return []


# ----- arguments -----------------------------------------------------------------------------
def _arg_key(name: str) -> str:
    return name.strip().lstrip("-").replace("-", "_")


def substitute(data: Any, arguments: Mapping[str, Any], source: str, path: tuple[str | int, ...] = ()) -> Any:
    """Replace ``${name}`` (or ``${name:-default}``) in every string of ``data`` by the run's
    argument ``name``; ``$$`` is a literal ``$``.

    Raises:
        ConfigError: placeholders without an argument or default, each named with its key path.
    """
    args = {_arg_key(k): v for k, v in arguments.items()}
    missing: list[str] = []

    def walk(value: Any, where: tuple[str | int, ...]) -> Any:
        if isinstance(value, str):
            return _substitute_text(value, args, where, missing)
        if isinstance(value, dict):
            return {k: walk(v, (*where, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*where, i)) for i, v in enumerate(value)]
        return value

    result = walk(data, path)
    if missing:
        raise ConfigError("\n".join(f"{source}: {m}" for m in missing))
    return result


def _substitute_text(text: str, args: Mapping[str, Any], where: tuple[str | int, ...], missing: list[str]) -> str:
    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = _arg_key(match.group(1)), match.group(2)
        if name in args and args[name] is not None:
            return str(args[name])
        if default is not None:
            return default
        key = ".".join(str(p) for p in where) or "(top level)"
        missing.append(f"{key}: argument {name!r} is not given (pass --{name} VALUE)")
        return match.group(0)

    return PLACEHOLDER.sub(repl, text)


def load_spec(path: str | Path, arguments: Mapping[str, Any] | None = None) -> JobSpec:
    """Read and validate a YAML job spec, with ``${name}`` placeholders replaced by ``arguments``.

    With ``arguments=None`` the placeholders are left as they are (to check a spec's shape without
    a run); fields that are not plain strings then need real values.

    Raises:
        ConfigError: the file is missing or not YAML, a placeholder has no argument, or the spec is
            invalid; the message names the file, the key path and what was expected.
    """
    path = Path(path)
    source = str(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{source}: file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    if arguments is not None:
        data = {k: (v if k == "job" else substitute(v, arguments, source, (k,))) for k, v in data.items()}
    spec = parse_model(data, JobSpec, source=source)
    spec._source_file = source
    return spec
