"""Broken data files, caches and output folders, through the CLI: SRDB, grids, tower files,
COSORE, caches, and outputs on a full or read-only file system. Every case is one line naming the
file (and field), exit 2 — or a counted, reported skip (exit 0 with a warning line).

Each case builds a data root of links to the shared data with one file replaced."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from soilco2.cli import main

ROOT = Path(__file__).resolve().parents[1]
GLOBAL_TINY = ROOT / "configs" / "global_tiny.yaml"
DAILY_TINY = ROOT / "configs" / "daily_tiny.yaml"
SUBDAILY = ROOT / "configs" / "subdaily_wkg.yaml"

pytestmark = pytest.mark.realdata


def run_cli(capsys, *args) -> tuple[int, str]:
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as stop:
        code = stop.code or 0
    return code, capsys.readouterr().err


def one_line(err: str) -> list[str]:
    return [line for line in err.strip().splitlines() if line.strip()]


def hostile_root(tmp_path: Path, data_root: Path, rel: str) -> tuple[Path, Path]:
    """A data root whose every file links to the shared copy, except ``rel`` (returned, absent)."""
    root = tmp_path / "data"
    for src in data_root.rglob("*"):
        if src.is_dir():
            continue
        dst = root / src.relative_to(data_root)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.relative_to(data_root).as_posix() != rel:
            dst.symlink_to(src)
    return root, root / rel


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x89\x00\xff garbage \xfe\x00" * 50)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _folder(path: Path) -> None:
    path.mkdir()


def _csv_without(column: str):
    def write(path: Path, src: Path) -> None:
        import pandas as pd

        df = pd.read_csv(src, low_memory=False, encoding_errors="replace")
        df.drop(columns=[column]).to_csv(path, index=False)

    return write


def _netcdf_without(var: str):
    def write(path: Path, src: Path) -> None:
        with xr.open_dataset(src) as ds:
            ds.drop_vars(var).load().to_netcdf(path)

    return write


def _netcdf_wrong_shape(path: Path, src: Path) -> None:
    xr.Dataset({"temp": (("lat", "lon"), np.zeros((3, 4)))}, coords={"lat": [0, 1, 2], "lon": [0, 1, 2, 3]}).to_netcdf(
        path
    )


# (case id, file under the data root, how to break it, command, expected words)
SRDB = ["data", "srdb", "summary", "--data-root", "{root}"]
GLOBAL = ["global", "run", str(GLOBAL_TINY), "--out", "{tmp}/out", "--quiet"]
SUBDAILY_MI = ["subdaily", "mi", str(SUBDAILY), "--out", "{tmp}/mi"]
CASES = [
    ("srdb_missing", "srdb/srdb-data.csv", None, SRDB, ["srdb-data.csv"]),
    ("srdb_empty", "srdb/srdb-data.csv", _empty, SRDB, ["srdb-data.csv"]),
    ("srdb_garbage", "srdb/srdb-data.csv", _garbage, SRDB, ["srdb-data.csv"]),
    ("srdb_folder", "srdb/srdb-data.csv", _folder, SRDB, ["srdb-data.csv"]),
    ("srdb_no_rs", "srdb/srdb-data.csv", _csv_without("Rs_annual"), SRDB, ["srdb-data.csv", "Rs_annual"]),
    ("srdb_no_lat", "srdb/srdb-data.csv", _csv_without("Latitude"), SRDB, ["srdb-data.csv", "Latitude"]),
    ("biome4_missing", "grids/BIOME4_inputdata.nc", None, GLOBAL, ["BIOME4_inputdata.nc"]),
    ("biome4_garbage", "grids/BIOME4_inputdata.nc", _garbage, GLOBAL, ["BIOME4_inputdata.nc"]),
    ("biome4_no_temp", "grids/BIOME4_inputdata.nc", _netcdf_without("temp"), GLOBAL, ["BIOME4_inputdata.nc", "temp"]),
    ("biome4_wrong_shape", "grids/BIOME4_inputdata.nc", _netcdf_wrong_shape, GLOBAL, ["BIOME4_inputdata.nc"]),
    ("soc_missing", "grids/SOCS_0_30cm_year_2010AD_10km.tif", None, GLOBAL, ["SOCS_0_30cm"]),
    ("soc_garbage", "grids/SOCS_0_30cm_year_2010AD_10km.tif", _garbage, GLOBAL, ["SOCS_0_30cm"]),
    ("landfrac_missing", "grids/fractional_land.0.5-deg.nc", None, GLOBAL, ["fractional_land"]),
    ("landfrac_garbage", "grids/fractional_land.0.5-deg.nc", _garbage, GLOBAL, ["fractional_land"]),
    ("tower_missing", "sites/us-wkg/US-Wkg-fluxes.csv", None, SUBDAILY_MI, ["US-Wkg-fluxes.csv"]),
    ("tower_garbage", "sites/us-wkg/US-Wkg-fluxes.csv", _garbage, SUBDAILY_MI, ["US-Wkg-fluxes.csv"]),
    ("tower_no_precip", "sites/us-wkg/US-Wkg-fluxes.csv", _csv_without("P_F"), SUBDAILY_MI, ["US-Wkg-fluxes.csv"]),
    (
        "era5_no_ta",
        "sites/us-wkg/AMF_US-Wkg_FLUXNET_ERA5_DD_1981-2021_3-5.csv",
        _csv_without("TA_ERA"),
        SUBDAILY_MI,
        ["ERA5_DD", "TA_ERA"],
    ),
]


@pytest.mark.parametrize("case, rel, breaker, command, words", CASES, ids=[c[0] for c in CASES])
def test_broken_data_file(case, rel, breaker, command, words, tmp_path, data_root, capsys, monkeypatch):
    root, target = hostile_root(tmp_path, data_root, rel)
    if breaker is not None:
        try:
            breaker(target, data_root / rel)
        except TypeError:
            breaker(target)
    monkeypatch.setenv("SOILCO2_DATA", str(root))
    args = [a.format(root=root, tmp=tmp_path) for a in command]
    code, err = run_cli(capsys, *args)
    assert code == 2, err
    assert "Traceback" not in err and len(one_line(err)) == 1, err
    for w in words:
        assert w in err, (w, err)


# ---------------------------------------------------------------- COSORE: errors and reported skips
def test_empty_cosore_folder(tmp_path, capsys):
    (tmp_path / "cosore" / "datasets").mkdir(parents=True)
    for command in (["data", "summary"], ["data", "build", "--out", tmp_path / "b"]):
        code, err = run_cli(capsys, *command, "--root", tmp_path / "cosore")
        assert code == 2 and len(one_line(err)) == 1 and "datasets" in err and "Traceback" not in err


SKIPS = {
    "empty_ports": ("PORTS.txt", _empty, "PORTS.txt"),
    "rds_folder": ("data/data.RDS", _folder, "data.RDS"),
    "rds_garbage": ("data/data.RDS", _garbage, "data.RDS"),
    "description_missing": ("DESCRIPTION.txt", None, "DESCRIPTION.txt"),
}


@pytest.mark.parametrize("case", sorted(SKIPS))
def test_broken_cosore_dataset_is_a_reported_skip(case, tmp_path, data_root, capsys, monkeypatch):
    rel, breaker, word = SKIPS[case]
    monkeypatch.setenv("SOILCO2_CACHE", str(tmp_path / "cache"))
    cosore = tmp_path / "cosore" / "datasets"
    for name in ("d20190617_SCOTT_WHS", "d20190722_GORRES"):
        shutil.copytree(data_root / "cosore" / "datasets" / name, cosore / name, symlinks=True)
    target = cosore / "d20190722_GORRES" / rel
    target.unlink()
    if breaker is not None:
        breaker(target)
    code, err = run_cli(capsys, "data", "build", "--root", tmp_path / "cosore", "--out", tmp_path / "b")
    assert code == 0 and "Traceback" not in err
    warnings = [line for line in one_line(err) if "d20190722_GORRES" in line]
    assert len(warnings) == 1 and word in warnings[0], err
    import pandas as pd

    acc = pd.read_parquet(tmp_path / "b" / "cosore_accounting.parquet").set_index("dataset")
    assert acc.loc["d20190722_GORRES", "status"] == "error" and acc.loc["d20190617_SCOTT_WHS", "status"] == "ok"


def test_all_future_timestamps_are_counted_and_reported(tmp_path, data_root, capsys, monkeypatch):
    import pandas as pd
    import pyreadr

    monkeypatch.setenv("SOILCO2_CACHE", str(tmp_path / "cache"))
    name = "d20190617_SCOTT_WHS"
    src = data_root / "cosore" / "datasets" / name
    dst = tmp_path / "cosore" / "datasets" / name
    shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns("data"))
    raw = pyreadr.read_r(str(src / "data" / "data.RDS"))[None].head(500)
    start = pd.Timestamp("2099-06-01")
    raw["CSR_TIMESTAMP_BEGIN"] = start + pd.to_timedelta(np.arange(len(raw)) * 30, "min")
    raw["CSR_TIMESTAMP_END"] = raw["CSR_TIMESTAMP_BEGIN"] + pd.Timedelta(minutes=2)
    (dst / "data").mkdir()
    pyreadr.write_rds(str(dst / "data" / "data.RDS"), raw)
    code, err = run_cli(capsys, "data", "build", "--root", tmp_path / "cosore", "--out", tmp_path / "b")
    assert code == 0 and "Traceback" not in err
    assert "bad_timestamp" in err and name in err
    acc = pd.read_parquet(tmp_path / "b" / "cosore_accounting.parquet").set_index("dataset")
    assert acc.loc[name, "dropped_bad_timestamp"] == acc.loc[name, "raw"] == 500
    monkeypatch.setenv("SOILCO2_CACHE", str(tmp_path / "cache2"))  # not the cached table of the build
    code, err = run_cli(capsys, "data", "summary", "--data-root", tmp_path / "cosore")
    assert code == 0 and "Traceback" not in err and "bad_timestamp" in err and name in err


# ---------------------------------------------------------------- caches
def test_truncated_cache_is_rebuilt(tmp_path, data_root, capsys, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SOILCO2_CACHE", str(cache))
    cosore = tmp_path / "cosore" / "datasets"
    shutil.copytree(data_root / "cosore" / "datasets" / "d20190617_SCOTT_WHS", cosore / "d20190617_SCOTT_WHS")
    code, _ = run_cli(capsys, "data", "summary", "--root", tmp_path / "cosore")
    assert code == 0
    caches = sorted(cache.glob("cosore_daily_*.parquet"))
    assert caches
    caches[0].write_bytes(caches[0].read_bytes()[:100])  # what a full disk leaves
    code, err = run_cli(capsys, "data", "summary", "--root", tmp_path / "cosore")
    assert code == 0 and "rebuilding" in err and "Traceback" not in err
    code, err = run_cli(capsys, "data", "summary", "--root", tmp_path / "cosore")
    assert code == 0 and "rebuilding" not in err


def test_cache_path_that_is_a_file(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "cache"
    blocker.write_text("x")
    monkeypatch.setenv("SOILCO2_CACHE", str(blocker))
    code, err = run_cli(capsys, "data", "summary")
    assert code == 2 and len(one_line(err)) == 1 and "cache" in err and "Traceback" not in err


# ---------------------------------------------------------------- full and read-only file systems
@pytest.fixture
def small_mounts(tmp_path):
    """A 256 kB tmpfs (fills at once) and a read-only one; skipped where mounting is not allowed."""
    full, ro = tmp_path / "full", tmp_path / "ro"
    full.mkdir()
    ro.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(full)], capture_output=True)
    if ok.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)], check=True)
    (full / "filler").write_bytes(b"\0" * 200_000)
    yield full, ro
    for m in (full, ro):
        if subprocess.run(["umount", str(m)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(m)], check=False)


OUTPUT_CASES = [
    ("data_build", ["data", "build", "--out", "{m}/cosore"]),
    ("global_run", ["global", "run", str(GLOBAL_TINY), "--out", "{m}/global", "--quiet"]),
    ("daily_train", ["daily", "train", str(DAILY_TINY), "--out", "{m}/daily", "--quiet"]),
]


@pytest.mark.parametrize("which", ["full", "ro"])
@pytest.mark.parametrize("case, command", OUTPUT_CASES, ids=[c[0] for c in OUTPUT_CASES])
def test_unwritable_output(which, case, command, small_mounts, data_root, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("SOILCO2_DATA", str(data_root))
    monkeypatch.setenv("SOILCO2_CACHE", str(tmp_path / "cache"))
    mount = small_mounts[0] if which == "full" else small_mounts[1]
    code, err = run_cli(capsys, *[a.format(m=mount) for a in command])
    assert code == 2, err
    lines = [line for line in one_line(err) if not line.startswith(("warning:", "progress:"))]
    assert len(lines) == 1 and str(mount) in err and "Traceback" not in err, err
    # nothing half-written left behind (the empty lock file of the folder may stay)
    assert [n for n in os.listdir(mount) if not n.endswith(".lock")] in ([], ["filler"])
