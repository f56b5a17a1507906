"""Shared fixtures. Real-data tests use ``data_root``: it skips locally when the shared data
is missing, but fails loudly in CI (``CI=true``), where the data must be present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from soilco2.paths import data_root as resolve_data_root


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        msg = (
            f"real data missing: {what} not found at {path} (set SOILCO2_DATA or put ../shared/data beside the project)"
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real shared data root (../shared/data or SOILCO2_DATA)."""
    return _require(resolve_data_root(must_exist=False), "data root")


@pytest.fixture(scope="session")
def cosore_root(data_root: Path) -> Path:
    return _require(data_root / "cosore", "COSORE")


@pytest.fixture(scope="session")
def srdb_root(data_root: Path) -> Path:
    return _require(data_root / "srdb", "SRDB")


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory) -> None:
    """Keep test caches out of the user's cache directory."""
    os.environ.setdefault("SOILCO2_CACHE", str(tmp_path_factory.mktemp("soilco2-cache")))
