"""YAML configs validated by pydantic: unknown keys and impossible values are rejected with
one message naming the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from soilco2.errors import UserError


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


M = TypeVar("M", bound=BaseModel)


def describe_validation_error(err: ValidationError) -> tuple[str, str]:
    """(field path, message) of the first pydantic error, in YAML dotted form."""
    first = err.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "<root>"
    kind = first["type"]
    msg = "unknown key" if kind == "extra_forbidden" else first["msg"]
    if len(err.errors()) > 1:
        msg += f" (and {len(err.errors()) - 1} more problem(s))"
    return field, msg


def validate(data: dict, model: type[M], *, file: str | Path = "<config>") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        field, msg = describe_validation_error(err)
        raise UserError(msg, file=file, field=field) from None


def load_config(path: str | Path, model: type[M]) -> M:
    """Read a YAML file into ``model``; every problem becomes a :class:`UserError`."""
    path = Path(path)
    if not path.is_file():
        raise UserError("config file not found", file=path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise UserError(f"not valid YAML ({err.__class__.__name__})", file=path) from None
    if not isinstance(data, dict):
        raise UserError("top level must be a mapping of keys to values", file=path)
    return validate(data, model, file=path)


def dump_config(cfg: BaseModel, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
