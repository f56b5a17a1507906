"""Run folders: never replace a folder soilco2 did not create, one writer at a time, a swap that
leaves the old or the new run whole at every point, and an interrupt that exits 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from soilco2.errors import UserError
from soilco2.files import MANIFEST, RUN_MARKER, folder_lock, is_run_folder, run_folder, write_json

ROOT = Path(__file__).resolve().parents[1]


def _finished(path: Path, tag: str, kind: str = "test") -> None:
    with run_folder(path, kind, replace=True) as tmp:
        (tmp / "result.txt").write_text(tag)
        write_json(tmp / MANIFEST, {"files": {}})


def test_swap_replaces_an_own_run(tmp_path):
    run = tmp_path / "run"
    _finished(run, "first")
    _finished(run, "second")
    assert (run / "result.txt").read_text() == "second" and is_run_folder(run)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["run"]


def test_failure_keeps_the_old_run_whole(tmp_path):
    run = tmp_path / "run"
    _finished(run, "first")
    with pytest.raises(RuntimeError), run_folder(run, "test", replace=True) as tmp:
        (tmp / "result.txt").write_text("half")
        raise RuntimeError("killed half way")
    assert (run / "result.txt").read_text() == "first"
    assert is_run_folder(tmp_path / "run.partial")  # left for --resume, not looking finished
    assert not (tmp_path / "run.partial" / MANIFEST).exists()


def test_foreign_folder_is_refused_untouched(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.yaml").write_text("a user's file")
    with pytest.raises(UserError, match="not written by soilco2"), run_folder(mine, "test"):
        pass
    assert (mine / "config.yaml").read_text() == "a user's file"
    assert not (tmp_path / "mine.partial").exists()


def test_a_finished_run_is_replaced_only_when_asked_and_only_by_its_own_kind(tmp_path):
    run = tmp_path / "run"
    _finished(run, "first")
    with pytest.raises(UserError, match="pass --replace"), run_folder(run, "test"):
        pass
    with pytest.raises(UserError, match="never replaces"), run_folder(run, "other", replace=True):
        pass
    assert (run / "result.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["run"]


def test_resume_needs_an_unfinished_run_of_its_kind_and_a_refusal_keeps_it(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(UserError, match="nothing to resume"), run_folder(run, "test", resume=True):
        pass
    with pytest.raises(RuntimeError), run_folder(run, "test") as tmp:  # killed: the partial stays
        (tmp / "member_0.pt").write_text("finished member")
        raise RuntimeError("killed")
    with pytest.raises(UserError, match="unfinished soilco2 'test' run"), run_folder(run, "other"):
        pass
    with pytest.raises(UserError, match="bad input"), run_folder(run, "test", resume=True):
        raise UserError("bad input")  # a resumed run that stops on an error keeps what it had
    assert (tmp_path / "run.partial" / "member_0.pt").read_text() == "finished member"
    with run_folder(run, "test", resume=True) as tmp:
        assert (tmp / "member_0.pt").is_file()


def test_second_writer_is_refused(tmp_path):
    run = tmp_path / "run"
    with folder_lock(run), pytest.raises(UserError, match="another soilco2 command"), run_folder(run, "test"):
        pass


def test_a_swap_killed_between_its_renames_is_finished_next_time(tmp_path):
    run = tmp_path / "run"
    _finished(run, "old")
    # the state after "rename old aside" and before "rename new in"
    os.rename(run, tmp_path / "run.old")
    partial = tmp_path / "run.partial"
    partial.mkdir()
    (partial / RUN_MARKER).write_text("{}")
    (partial / "result.txt").write_text("new")
    write_json(partial / MANIFEST, {"files": {}})
    from soilco2.files import _recover

    _recover(run)
    assert (run / "result.txt").read_text() == "new"


def test_a_swap_killed_before_the_new_run_was_complete_restores_the_old(tmp_path):
    run = tmp_path / "run"
    _finished(run, "old")
    os.rename(run, tmp_path / "run.old")
    partial = tmp_path / "run.partial"
    partial.mkdir()
    (partial / RUN_MARKER).write_text("{}")  # no manifest: unfinished
    _finished(tmp_path / "unrelated", "x")
    with run_folder(run, "test", replace=True) as tmp:  # recovery first, then a fresh build
        assert (run / "result.txt").read_text() == "old"
        (tmp / "result.txt").write_text("newer")
    assert (run / "result.txt").read_text() == "newer"


@pytest.mark.realdata
def test_interrupt_exits_130_with_one_line_and_no_finished_run(tmp_path, data_root):
    out = tmp_path / "global"
    env = os.environ | {"SOILCO2_DATA": str(data_root)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "soilco2.cli",
            "global",
            "run",
            str(ROOT / "configs" / "global_tiny.yaml"),
            "--out",
            str(out),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    end = time.monotonic() + 120
    while not (tmp_path / "global.partial").exists() and time.monotonic() < end:
        time.sleep(0.1)
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and "interrupted" in err
    assert not (out / MANIFEST).exists()
