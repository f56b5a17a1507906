"""Writing files safely: atomic replacement, JSON of numpy values, and the run-folder marker.

Every file soilco2 writes goes to a temporary name in the same folder and is renamed into place,
so a killed or failing write never leaves a truncated file that looks finished. Write failures
(read-only folder, full disk) become a :class:`UserError` naming the file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from soilco2.errors import UserError


def json_default(o):
    """``json.dumps`` fallback for numpy scalars (and anything else as its string)."""
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _describe(err: OSError) -> str:
    known = {28: "disk full", 13: "permission denied", 30: "read-only file system", 122: "disk quota exceeded"}
    if err.errno in known:
        return known[err.errno]
    text = str(err)  # pyarrow's OSError carries the errno only in its text
    for code, name in known.items():
        if f"errno {code}]" in text:
            return name
    return err.strerror or text or err.__class__.__name__


def mkdir(path: str | Path) -> Path:
    """``mkdir -p`` whose failure is one :class:`UserError` naming the folder."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError("exists and is not a folder", file=path) from None
    except OSError as err:
        raise UserError(f"cannot create folder ({_describe(err)})", file=path) from None
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename, on
    failure it is removed and an :class:`OSError` becomes a :class:`UserError` naming ``path``."""
    path = Path(path)
    mkdir(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise UserError(f"cannot write ({_describe(err)})", file=path) from None
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a result is as readable as any new file
        os.replace(tmp, path)
    except OSError as err:
        raise UserError(f"cannot write ({_describe(err)})", file=path) from None
    except RuntimeError:  # libraries that report a failed write as a RuntimeError (torch.save)
        if shutil.disk_usage(path.parent).free < 1 << 20:
            raise UserError("cannot write (disk full)", file=path) from None
        raise
    finally:
        if tmp.exists():
            tmp.unlink(missing_ok=True)


def write_with(path: str | Path, writer: Callable[[Path], object]) -> Path:
    """``writer(tmp)`` writes the file; it is then renamed to ``path`` (atomic)."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_with(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, data, *, indent: int = 1) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=indent, default=json_default))


def write_parquet(df, path: str | Path, **kwargs) -> Path:
    return write_with(path, lambda tmp: df.to_parquet(tmp, **kwargs))


# ---------------------------------------------------------------- run folders
RUN_MARKER = ".soilco2-run"
MANIFEST = "manifest.json"


def is_run_folder(path: Path) -> bool:
    """A folder soilco2 created (it holds the marker soilco2 writes first)."""
    return (Path(path) / RUN_MARKER).is_file()


@contextmanager
def folder_lock(target: Path):
    """An exclusive lock on ``target`` (a lock file beside it) for one writer at a time; a second
    writer gets a :class:`UserError` at once instead of mixing two runs' files."""
    import fcntl

    target = Path(target)
    mkdir(target.parent)
    lock_path = target.with_name(f".{target.name}.lock")
    try:
        handle = open(lock_path, "a+")  # noqa: SIM115 - held for the lifetime of the context
    except OSError as err:
        raise UserError(f"cannot create the lock file ({_describe(err)})", file=lock_path) from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise UserError("another soilco2 command is writing this folder now; wait for it", file=target) from None
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _recover(final: Path) -> None:
    """Finish a swap that a kill interrupted: the old run set aside, the new one not yet moved in."""
    old, partial = final.with_name(final.name + ".old"), final.with_name(final.name + ".partial")
    if final.exists() or not is_run_folder(old):
        return
    new_complete = is_run_folder(partial) and (partial / MANIFEST).is_file()
    os.rename(partial if new_complete else old, final)


def run_kind(path: Path) -> str | None:
    """The kind of run a soilco2 folder holds (its marker says what wrote it), or None."""
    try:
        kind = json.loads((Path(path) / RUN_MARKER).read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        return None
    return None if kind is None else str(kind)


def _check_replace(final: Path, kind: str, replace: bool) -> None:
    """A finished run is replaced only by a run of its own kind, and only when asked to."""
    if not is_run_folder(final):
        return
    other = run_kind(final)
    if other != kind:
        raise UserError(f"holds a soilco2 '{other}' run, which a '{kind}' run never replaces; choose another folder",
                        file=final)  # fmt: skip
    if not replace:
        raise UserError(f"a finished '{kind}' run is here; replacing it (and everything in it) is a choice: "
                        "pass --replace, or choose another folder", file=final)  # fmt: skip


def _check_foreign(final: Path) -> None:
    """A folder (or file) soilco2 did not write is never touched."""
    if final.exists() and not is_run_folder(final) and (not final.is_dir() or any(final.iterdir())):
        raise UserError(f"exists and was not written by soilco2 (no {RUN_MARKER}); choose another folder", file=final)


def check_destination(final: str | Path, kind: str, *, replace: bool = False) -> Path:
    """What :func:`run_folder` refuses, checked before a command does any work (nothing is
    created): a folder soilco2 did not write, a run of another kind, a finished run without
    ``replace``. Returns the resolved path."""
    final = Path(final).resolve()
    _check_foreign(final)
    _check_replace(final, kind, replace)
    return final


@contextmanager
def run_folder(final: str | Path, kind: str, *, resume: bool = False, replace: bool = False):
    """Build a run folder in ``<final>.partial`` and swap it in when the body succeeds.

    - a folder at ``final`` that soilco2 did not create (no marker) and that is not empty is never
      touched: :class:`UserError`; nor is a run of another kind (the marker says what wrote it),
      nor a finished run of this kind unless ``replace``;
    - ``resume`` continues the ``<final>.partial`` of this kind that a kill left; without one it is
      a :class:`UserError` (nothing to resume);
    - one writer at a time (:func:`folder_lock`);
    - the swap renames the old run aside, the new one in, then removes the old one, so a failure
      at any point leaves either the old run or the new one whole (the next call finishes a swap a
      kill interrupted);
    - after a user error or a failed write the partial folder is removed (a resumed one stays);
      after an interrupt or a kill it stays, and ``resume=True`` continues in it.
    """
    final = Path(final).resolve()  # "." or "..": a folder with a name, so ".partial" and the lock sit beside it
    _check_foreign(final)
    with folder_lock(final):
        _recover(final)
        _check_replace(final, kind, replace)
        partial = final.with_name(final.name + ".partial")
        if partial.exists():
            if not is_run_folder(partial):
                raise UserError(f"exists and was not written by soilco2 (no {RUN_MARKER})", file=partial)
            if run_kind(partial) not in (None, kind):
                raise UserError(f"holds an unfinished soilco2 '{run_kind(partial)}' run; choose another folder",
                                file=partial)  # fmt: skip
            if not resume:
                shutil.rmtree(partial)
        elif resume:
            raise UserError(f"nothing to resume: no unfinished run ({partial.name}); train without --resume",
                            file=final)  # fmt: skip
        mkdir(partial)
        if not is_run_folder(partial):
            write_json(partial / RUN_MARKER, {"kind": kind})
        try:
            yield partial
        except OSError as err:  # a write inside the run failed (full disk, read-only, quota)
            if not resume:  # what a resumed run had finished stays for the next --resume
                shutil.rmtree(partial, ignore_errors=True)
            kept = "what it had finished is kept for --resume" if resume else "nothing of it was kept"
            raise UserError(f"cannot write the run ({_describe(err)}); {kept}", file=final) from None
        except UserError:  # the input must change first
            if not resume:
                shutil.rmtree(partial, ignore_errors=True)
            raise
        old = final.with_name(final.name + ".old")
        if old.exists() and is_run_folder(old):
            shutil.rmtree(old)
        if final.exists():
            os.rename(final, old)
        os.rename(partial, final)
        if old.exists():
            shutil.rmtree(old)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_manifest(run: Path, files: list[str], **facts) -> None:
    """``manifest.json``: the run's facts (config digest, members, ...) and each file's checksum."""
    run = Path(run)
    write_json(run / MANIFEST, facts | {"files": {f: sha256_file(run / f) for f in sorted(files)}})


def verify_manifest(run: Path, **expected) -> dict:
    """Check a run folder against its manifest before trusting it: every listed file present with
    its checksum, and ``expected`` facts equal; a :class:`UserError` naming the file otherwise."""
    run = Path(run)
    path = run / MANIFEST
    if not path.is_file():
        raise UserError("no manifest.json: not a complete soilco2 run folder (train it again)", file=run)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (ValueError, KeyError, UnicodeDecodeError):
        raise UserError("unreadable run manifest", file=path) from None
    for rel, digest in files.items():
        f = run / rel
        if not f.is_file():
            raise UserError("listed in the run's manifest.json but missing", file=f)
        if sha256_file(f) != digest:
            raise UserError("changed since the run wrote it (checksum differs from manifest.json)", file=f)
    for key, value in expected.items():
        if manifest.get(key) != value:
            raise UserError(
                f"the run's manifest says {manifest.get(key)!r}, the folder {value!r}", file=path, field=key
            )
    return manifest
