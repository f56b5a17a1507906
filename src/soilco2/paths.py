"""Where data and caches live.

The data root is, in order: an explicit path (config key ``data_root``), the environment
variable ``SOILCO2_DATA``, ``../shared/data`` beside the project checkout or the working
directory when it exists, else a per-user cache directory (where the downloaders write).
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir

from soilco2.errors import UserError

ENV_DATA = "SOILCO2_DATA"
ENV_CACHE = "SOILCO2_CACHE"
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def user_data_dir() -> Path:
    return Path(user_cache_dir("soilco2")) / "data"


def default_data_root() -> Path:
    """The data root when neither a config key nor ``SOILCO2_DATA`` names one."""
    for base in (_PROJECT_ROOT, Path.cwd()):
        candidate = (base / ".." / "shared" / "data").resolve()
        if candidate.is_dir():
            return candidate
    return user_data_dir()


def data_root(explicit: str | Path | None = None, *, must_exist: bool = True) -> Path:
    """Resolve the data root; raise a :class:`UserError` naming the source when it is missing."""
    if explicit:
        root, source = Path(explicit).expanduser(), "config key 'data_root'"
    elif os.environ.get(ENV_DATA):
        root, source = Path(os.environ[ENV_DATA]).expanduser(), f"environment variable {ENV_DATA}"
    else:
        root, source = default_data_root(), "default data root"
    if must_exist and not root.is_dir():
        raise UserError(
            f"data root does not exist (from {source}); set {ENV_DATA} or run 'soilco2 data download'",
            file=root,
        )
    return root


def cache_dir() -> Path:
    """Directory for derived caches (Parquet); ``SOILCO2_CACHE`` overrides it."""
    path = Path(os.environ.get(ENV_CACHE) or (Path(user_cache_dir("soilco2")) / "cache"))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the cache folder ({err.strerror}); set {ENV_CACHE}", file=path) from None
    return path


def source_dir(name: str, root: str | Path | None = None, *, label: str | None = None) -> Path:
    """The folder of one source: ``<data root>/<name>``, or ``root`` itself when it is that folder."""
    base = data_root(root) if root is None else Path(root)
    if (base / name).is_dir():
        return base / name
    if base.is_dir():
        return base
    raise UserError(f"{label or name} folder does not exist", file=base)
