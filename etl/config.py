"""Loading YAML specs into pydantic models, with errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_pascal

from etl.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class GlueModel(BaseModel):
    """Base for specs: Glue's PascalCase keys (``DatabaseName``) or snake_case both accepted;
    unknown keys are errors, so a typo is caught when the spec is loaded."""

    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True, extra="forbid")


def describe_validation_error(source: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"{source}: {where}: {err['msg']}")
    return "\n".join(lines)


def load_yaml(path: str | Path, model: type[M]) -> M:
    """Parse ``path`` as YAML and validate it as ``model``.

    Raises:
        ConfigError: the file is missing, not YAML, or does not match the model; the message
            names the file, the key path and what was expected.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return parse_model(data, model, source=str(path))


def parse_model(data: dict, model: type[M], *, source: str = "spec") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(source, exc)) from exc
