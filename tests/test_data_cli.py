"""`soilco2 data ...` commands and the downloader, offline (a local http.server on 127.0.0.1)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cosore_copy import package_copy
from soilco2.errors import UserError
from soilco2.sources import download as dl

SOILCO2 = [sys.executable, "-m", "soilco2.cli"]


def _run(args, tmp_path):
    env = {**os.environ, "SOILCO2_CACHE": str(tmp_path / "cache"), "COLUMNS": "200"}
    return subprocess.run([*SOILCO2, *args], capture_output=True, text=True, env=env, timeout=120)


# ---------------------------------------------------------------- downloader
@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/www on 127.0.0.1 like raw.githubusercontent.com (<repo>/<commit>/<path>)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _publish(www: Path, files: dict[str, bytes]) -> list[dl.RemoteFile]:
    out = []
    for rel, payload in files.items():
        path = www / "bpbond/cosore/abc1234/inst/extdata" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
        out.append(
            dl.RemoteFile(rel, "bpbond/cosore", "abc1234", "inst/extdata/" + rel, hashlib.sha256(payload).hexdigest())
        )
    return out


def test_download_verifies_and_caches(server, tmp_path):
    www, url = server
    files = _publish(www, {"CSR_COLUMN_UNITS.csv": b"a,b\n1,2\n", "datasets/d1/PORTS.txt": b"CSR_PORT\n0\n"})
    dest = tmp_path / "data" / "cosore"
    assert dl.download_files(files, dest, base_url=url, progress=False) == {"downloaded": 2, "cached": 0}
    assert (dest / "datasets/d1/PORTS.txt").read_bytes() == b"CSR_PORT\n0\n"
    assert dl.download_files(files, dest, base_url=url, progress=False) == {"downloaded": 0, "cached": 2}
    (dest / "CSR_COLUMN_UNITS.csv").write_bytes(b"tampered")  # a damaged local copy is fetched again
    assert dl.download_files(files, dest, base_url=url, progress=False) == {"downloaded": 1, "cached": 1}


def test_download_checksum_mismatch_and_http_error(server, tmp_path):
    www, url = server
    (good,) = _publish(www, {"x.csv": b"payload"})
    wrong = dl.RemoteFile(good.local, good.repo, good.commit, good.remote, "0" * 64)
    with pytest.raises(UserError, match="checksum mismatch") as err:
        dl.download_files([wrong], tmp_path / "d", base_url=url, progress=False)
    assert err.value.field == "sha256" and not (tmp_path / "d" / "x.csv").exists()
    assert not list((tmp_path / "d").glob("*.part"))
    missing = dl.RemoteFile("y.csv", "bpbond/cosore", "abc1234", "inst/extdata/y.csv", "0" * 64)
    with pytest.raises(UserError, match="HTTP 404"):
        dl.download_files([missing], tmp_path / "d", base_url=url, progress=False)


def test_an_offline_download_leaves_no_empty_folder(tmp_path):
    import socket

    with socket.socket() as s:  # a local port with nothing behind it: the network is down
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    item = dl.RemoteFile("datasets/d1/PORTS.txt", "bpbond/cosore", "abc1234", "inst/extdata/x", "0" * 64)
    with pytest.raises(UserError, match="are you online"):
        dl.download_files([item], tmp_path / "data" / "cosore", base_url=url, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_download_cli_all(server, tmp_path, monkeypatch):
    from soilco2.commands import data

    www, url = server
    cos = _publish(www, {"datasets/d1/DESCRIPTION.txt": b"CSR_SITE_NAME: x\n"})
    srdb_payload = b"Record_number,Rs_annual\n1,900\n"
    (www / "bpbond/srdb/ddeee84").mkdir(parents=True)
    (www / "bpbond/srdb/ddeee84/srdb-data.csv").write_bytes(srdb_payload)
    srdb = [
        dl.RemoteFile(
            "srdb-data.csv", "bpbond/srdb", "ddeee84", "srdb-data.csv", hashlib.sha256(srdb_payload).hexdigest()
        )
    ]
    monkeypatch.setattr(dl, "sources", lambda: {"cosore": cos, "srdb": srdb})
    result = CliRunner().invoke(data.app, ["download", "all", "--dest", str(tmp_path / "root"), "--base-url", url])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "root/cosore/datasets/d1/DESCRIPTION.txt").is_file()
    assert (tmp_path / "root/srdb/srdb-data.csv").read_bytes() == srdb_payload
    assert "1 files downloaded" in result.output


def test_registry_matches_shared_data(cosore_root):
    """The pinned checksums are those of the shared copy (so a fresh download equals it)."""
    from soilco2.sources import registry

    cosore = registry.checksums("cosore")
    assert len(cosore) == 569
    for rel in ("CSR_COLUMN_UNITS.csv", "datasets/d20190617_SCOTT_WKG/data/data.RDS"):
        assert dl.sha256_of(cosore_root / rel) == cosore[rel]
    urls = {f.url() for f in registry.source_files("cosore")[:1]}
    assert urls == {"https://raw.githubusercontent.com/bpbond/cosore/02f32e8/inst/extdata/CSR_COLUMN_UNITS.csv"}


# ---------------------------------------------------------------- summary / build
@pytest.fixture
def small(cosore_root, tmp_path):
    return package_copy(cosore_root, tmp_path / "cosore")


def test_build_writes_tables_and_closing_accounting(small, tmp_path):
    out = tmp_path / "out"
    res = _run(["data", "build", "--root", str(small), "--out", str(out)], tmp_path)
    assert res.returncode == 0, res.stderr
    assert "accounting closes: True" in res.stdout
    for name in ("cosore_daily", "cosore_accounting", "cosore_sites"):
        assert (out / f"{name}.parquet").is_file() and (out / f"{name}.csv").is_file()
    acc = pd.read_parquet(out / "cosore_accounting.parquet")
    dropped = acc.filter(like="dropped_").sum(axis=1)
    assert (acc["raw"] == acc["kept"] + dropped).all() and len(acc) == 2
    daily = pd.read_csv(out / "cosore_daily.csv")
    assert set(daily["dataset"]) <= set(acc["dataset"]) and len(daily) > 0


def test_summary_table_and_out_file(small, tmp_path):
    (small / "datasets" / "d20200221_MATHES" / "data" / "data.RDS").unlink()  # metadata only
    res = _run(["data", "summary", "--root", str(small), "--out", str(tmp_path / "s.csv")], tmp_path)
    assert res.returncode == 0, res.stderr
    assert "2 datasets seen, 1 with data" in " ".join(res.stdout.split())
    table = pd.read_csv(tmp_path / "s.csv").set_index("dataset")
    assert table.at["d20200221_MATHES", "status"] == "no_data" and table.at["d20200221_MATHES", "days"] == 0
    row = table.loc["d20190526_MINIONS_IMNH"]
    assert (
        row["raw"] == 1272
        and 0 < row["kept"] <= 1272
        and row["days"] > 0
        and row["igbp"] in ("GRA", "OSH", "ENF", "WET", "DBF", "EBF", "MF", "CSH", "WSA", "SAV", "CRO", "DNF")
    )


@pytest.mark.parametrize(
    "args, text",
    [
        (["data", "summary", "--root", "/nonexistent/cosore"], "does not exist"),
        (["data", "summary", "--out", "x.txt", "--root", "{small}"], "must end in .csv or .parquet"),
        (["data", "download", "zenodo"], "unknown source"),
    ],
)
def test_cli_errors_are_one_line(small, tmp_path, args, text):
    res = _run([a.replace("{small}", str(small)) for a in args], tmp_path)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert text in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) <= 2


def test_grid_registry_matches_shared_data(data_root):
    """Grid checksums are those of the shared copy; every grid file the readers use is registered."""
    from soilco2.sources import registry

    files = {f.local: f for f in registry.source_files("grids")}
    for name, item in files.items():
        assert dl.sha256_of(data_root / "grids" / name) == item.sha256, name
    assert files["BIOME4_inputdata.nc"].url() == (
        "https://raw.githubusercontent.com/jedokaplan/BIOME4/4ad9dff/BIOME4_inputdata.nc"
    )
    assert set(dl.sources()) == {"cosore", "srdb", "grids", "benchmarks"}


def test_benchmark_registry_matches_shared_data(data_root):
    """Every process-model benchmark file in the shared copy is registered with its checksum."""
    from soilco2.sources import registry

    files = {f.local: f for f in registry.source_files("benchmarks")}
    local = {
        p.relative_to(data_root / "benchmarks").as_posix() for p in (data_root / "benchmarks").rglob("*") if p.is_file()
    }
    assert set(files) == local
    for name, item in files.items():
        assert dl.sha256_of(data_root / "benchmarks" / name) == item.sha256, name


@pytest.mark.realdata
def test_piped_tables_are_not_cut(data_root):
    """rich cuts tables to 80 columns without a terminal; the CLI gives a log the whole width."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "soilco2.cli", "data", "srdb", "summary"], capture_output=True,
                         text=True, env=os.environ | {"SOILCO2_DATA": str(data_root)})  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "…" not in res.stdout and "with_rs_annual" in res.stdout.replace("\n", "")
