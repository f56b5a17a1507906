"""YAML configs validated by pydantic: unknown keys, duplicate keys, non-finite numbers and
impossible values are rejected with one message naming the file and the field; an empty file is
an error, never a silent run of the defaults."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from soilco2.errors import UserError


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, and so are inf and NaN."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


_DASK_ADDRESS = re.compile(r"^(?:(?:tcp|tls|ucx)://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):\d{1,5}$")


def _dask_address(value: str | None) -> str | None:
    """A Dask scheduler address: ``[tcp|tls|ucx://]host:port`` (IPv6 in brackets)."""
    if value is None:
        return None
    value = value.strip()
    if value.lower().startswith(("http://", "https://")):
        raise ValueError(f"{value!r} is a web address (a dashboard?); a Dask scheduler is tcp://host:8786")
    if not _DASK_ADDRESS.match(value) or not 0 < int(value.rsplit(":", 1)[1]) < 65536:
        raise ValueError(
            f"{value!r} is not a Dask scheduler address (expected tcp://host:port, e.g. tcp://10.0.0.5:8786)"
        )
    return value


# a config field naming a Dask scheduler; null = a local cluster
SchedulerAddress = Annotated[str | None, AfterValidator(_dask_address)]


def _iso_date(value: str | None) -> str | None:
    """A calendar date (and optionally a time) in ISO 8601: 2019-06-30 or 2019-06-30T12:00."""
    if value is None:
        return None
    from datetime import datetime

    try:
        datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a date: give YYYY-MM-DD (ISO 8601)") from None
    return str(value).strip()


# a config field holding a date; null = the default
IsoDate = Annotated[str | None, AfterValidator(_iso_date)]


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error (plain YAML
    silently keeps the last one)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (line {key_node.start_mark.line + 1})", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path):
    """The parsed YAML document of ``path``; unreadable, non-UTF-8, invalid or empty files and
    duplicate keys are a :class:`UserError` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"not UTF-8 text (byte {err.start})", file=path) from None
    except OSError as err:
        raise UserError(f"cannot read ({err.strerror})", file=path) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.constructor.ConstructorError as err:
        raise UserError(str(err.problem), file=path) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"not valid YAML{where} ({err.__class__.__name__})", file=path) from None
    if data is None:
        raise UserError("config file is empty (copy one of configs/*.yaml to start)", file=path)
    return data


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
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise UserError("top level must be a mapping of keys to values", file=path)
    return validate(data, model, file=path)


def dump_config(cfg: BaseModel, path: str | Path) -> None:
    from soilco2.files import write_text_atomic

    write_text_atomic(path, yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
