"""The downloader's registry: pinned upstream files and their SHA-256 checksums.

The table itself is package data, ``registry.json`` beside this module (one entry per source:
repository, commit, path prefix and ``local path -> sha256``, with per-file overrides of repo,
commit or remote path). Regenerate its checksums with
:func:`soilco2.sources.download.registry_entries` on a verified copy of a source.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

GITHUB_RAW = "https://raw.githubusercontent.com"
ENV_URL = "SOILCO2_DOWNLOAD_URL"
SOURCES = ("cosore", "srdb", "grids", "benchmarks")


@dataclass(frozen=True)
class RemoteFile:
    """One file of a source: where it lives upstream and where it goes locally."""

    local: str  # path under the source's destination folder
    repo: str  # owner/name on GitHub
    commit: str  # commit (or tag) the file is pinned to
    remote: str  # path inside the repository
    sha256: str

    def url(self, base_url: str | None = None) -> str:
        base = (base_url or os.environ.get(ENV_URL) or GITHUB_RAW).rstrip("/")
        return f"{base}/{self.repo}/{self.commit}/{self.remote}"


@cache
def _table() -> dict:
    return json.loads(files("soilco2.sources").joinpath("registry.json").read_text(encoding="utf-8"))


def source_files(name: str) -> list[RemoteFile]:
    """The pinned files of source ``name`` (one of :data:`SOURCES`)."""
    entry = _table()[name]
    out = []
    for local, spec in entry["files"].items():
        spec = {"sha256": spec} if isinstance(spec, str) else spec
        out.append(
            RemoteFile(
                local,
                spec.get("repo", entry.get("repo")),
                spec.get("commit", entry.get("commit")),
                spec.get("remote", entry.get("prefix", "") + local),
                spec["sha256"],
            )
        )
    return out


def checksums(name: str) -> dict[str, str]:
    """``local path -> sha256`` of source ``name``."""
    return {f.local: f.sha256 for f in source_files(name)}
