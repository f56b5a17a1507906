"""Download the public data sets from their official GitHub repositories, with checksums.

Each source is a list of files pinned to a commit, each with its SHA-256 (the registry in
``soilco2.sources.registry``). A file already present with the right checksum is not fetched
again (the cache); a download is written to a temporary name, verified, then moved in place,
so an interrupted or corrupted download never looks complete. ``base_url`` (or the
environment variable ``SOILCO2_DOWNLOAD_URL``) replaces ``https://raw.githubusercontent.com``,
e.g. for a mirror or the offline tests.

Generic helpers for other sources: :func:`fetch` (one URL, one checksum) and
:func:`download_files` (a registry of files under one destination).
"""

from __future__ import annotations

from pathlib import Path

from soilco2.errors import UserError
from soilco2.files import sha256_file as sha256_of
from soilco2.paths import data_root
from soilco2.progress import track
from soilco2.sources.registry import ENV_URL, GITHUB_RAW, SOURCES, RemoteFile, source_files

__all__ = [
    "ENV_URL",
    "GITHUB_RAW",
    "RemoteFile",
    "download",
    "download_files",
    "fetch",
    "registry_entries",
    "sha256_of",
    "sources",
]


def fetch(url: str, dest: Path, sha256: str | None = None, *, session=None, timeout: float = 60) -> bool:
    """Download ``url`` to ``dest`` unless it is already there with checksum ``sha256``.

    Returns True when a download happened. Raises :class:`UserError` on HTTP errors, network
    failures and checksum mismatches (the bad download is removed).
    """
    if dest.is_file() and (sha256 is None or sha256_of(dest) == sha256):
        return False
    import requests

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    http = session or requests
    try:
        with http.get(url, stream=True, timeout=timeout) as resp:
            if resp.status_code != 200:
                raise UserError(f"download failed: HTTP {resp.status_code} for {url}", file=dest)
            with open(tmp, "wb") as f:
                for block in resp.iter_content(1 << 20):
                    f.write(block)
    except requests.RequestException as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"download failed ({exc.__class__.__name__}) for {url}; are you online?", file=dest) from None
    if sha256 is not None:
        got = sha256_of(tmp)
        if got != sha256:
            tmp.unlink(missing_ok=True)
            raise UserError(
                f"checksum mismatch for {url}: expected sha256 {sha256[:12]}..., got {got[:12]}...",
                file=dest,
                field="sha256",
            )
    tmp.replace(dest)
    return True


def download_files(
    files: list[RemoteFile],
    dest: Path,
    *,
    base_url: str | None = None,
    progress: bool = True,
    label: str = "Downloading",
) -> dict[str, int]:
    """Fetch every file of a registry under ``dest``; returns counts ``downloaded``/``cached``."""
    import requests

    counts = {"downloaded": 0, "cached": 0}
    existed = {p for p in [dest, *dest.parents] if p.exists()}
    try:
        with requests.Session() as session:
            for item in track(files, label, progress):
                got = fetch(item.url(base_url), dest / item.local, item.sha256, session=session)
                counts["downloaded" if got else "cached"] += 1
    except UserError:
        _remove_empty_folders(dest, existed)  # an offline attempt leaves no empty folder behind
        raise
    return counts


def _remove_empty_folders(dest: Path, existed: set[Path]) -> None:
    """Folders this call created under and above ``dest`` that hold nothing, deepest first."""
    created = [d for d in (*sorted(dest.rglob("*"), reverse=True), dest, *dest.parents)
               if d.is_dir() and d not in existed]  # fmt: skip
    for d in created:
        try:
            d.rmdir()  # only an empty folder goes
        except OSError:
            pass


def sources() -> dict[str, list[RemoteFile]]:
    """Registered sources: name -> files (see ``soilco2.sources.registry``)."""
    return {name: source_files(name) for name in SOURCES}


def download(
    name: str, dest_root: str | Path | None = None, *, base_url: str | None = None, progress: bool = True
) -> dict[str, int]:
    """Download source ``name`` (``cosore``, ``srdb``, ``grids``, ``benchmarks``) into ``<dest_root>/<name>``.

    ``dest_root`` defaults to the data root (``SOILCO2_DATA`` or the per-user data dir).
    """
    table = sources()
    if name not in table:
        raise UserError(f"unknown source {name!r}; choose one of {', '.join(table)} or 'all'", field="source")
    root = Path(dest_root).expanduser() if dest_root else data_root(must_exist=False)
    return download_files(table[name], root / name, base_url=base_url, progress=progress, label=f"Downloading {name}")


def registry_entries(folder: Path) -> dict[str, str]:
    """``relative path -> sha256`` for every file under ``folder`` (to (re)write the registry)."""
    return {p.relative_to(folder).as_posix(): sha256_of(p) for p in sorted(folder.rglob("*")) if p.is_file()}
