"""Inputs that once gave a traceback or a silently wrong result: each is one line naming the file
and field, exit 2, and the user's folders as they were."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "soilco2.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)  # fmt: skip


def one_line(res: subprocess.CompletedProcess, *words: str) -> str:
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    line = res.stderr.strip()
    assert "Traceback" not in line and len(line.splitlines()) == 1, line
    for w in words:
        assert w in line, (w, line)
    return line


@pytest.mark.realdata
def test_an_unknown_srdb_quality_code_is_refused(data_root):
    res = cli("data", "srdb", "summary", "--drop-quality", "ZZZ", env=os.environ | {"SOILCO2_DATA": str(data_root)})
    one_line(res, "--drop-quality", "ZZZ", "Q12")


@pytest.mark.parametrize("value", ["2019-13-45", "yesterday"])
def test_a_subdaily_date_that_is_no_date_is_refused_by_the_config(tmp_path, value):
    import yaml

    from soilco2.config import load_config
    from soilco2.errors import UserError
    from soilco2.subdaily.config import SubdailyConfig

    data = yaml.safe_load((ROOT / "configs" / "subdaily_whs_short.yaml").read_text())
    data["site"]["start"] = value
    cfg = tmp_path / "s2.yaml"
    cfg.write_text(yaml.safe_dump(data))
    with pytest.raises(UserError, match="YYYY-MM-DD") as err:
        load_config(cfg, SubdailyConfig)
    assert str(cfg) in str(err.value) and "start" in str(err.value)


def test_train_into_the_working_directory_is_refused_without_a_traceback(tmp_path):
    (tmp_path / "thesis.tex").write_text("keep me")
    res = cli("daily", "train", ROOT / "configs" / "daily_tiny.yaml", "--out", ".", cwd=tmp_path)
    one_line(res, "not written by soilco2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis.tex"]


def test_a_run_of_another_kind_is_never_replaced(tmp_path):
    from soilco2.files import RUN_MARKER, write_json

    daily = tmp_path / "daily_run"
    daily.mkdir()
    write_json(daily / RUN_MARKER, {"kind": "daily"})
    (daily / "config.yaml").write_text("name: mine\n")
    before = {p.name: p.read_bytes() for p in daily.iterdir()}
    one_line(
        cli("global", "run", ROOT / "configs" / "global_tiny.yaml", "--out", daily), "'daily' run", "never replaces"
    )
    one_line(cli("daily", "export", ROOT / "configs" / "daily_tiny.yaml", daily), "'daily' run", "never replaces")
    assert {p.name: p.read_bytes() for p in daily.iterdir()} == before
    assert not (tmp_path / "daily_run.partial").exists()
