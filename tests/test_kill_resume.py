"""Kills: a SIGKILLed tiny training resumes (``daily train --resume``) to the metrics of an
uninterrupted run, and killing the parent of a two-worker run leaves no worker behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "daily_tiny.yaml"

pytestmark = pytest.mark.realdata


def _config(tmp_path: Path, **training) -> Path:
    raw = yaml.safe_load(TINY.read_text())
    raw["training"].update({"epochs": 30, "patience": 30} | training)
    path = tmp_path / f"cfg_{len(list(tmp_path.glob('cfg_*')))}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _train(cfg: Path, out: Path, data_root: Path, *extra: str) -> subprocess.Popen:
    env = os.environ | {"SOILCO2_DATA": str(data_root)}
    return subprocess.Popen(
        [sys.executable, "-m", "soilco2.cli", "daily", "train", str(cfg), "--out", str(out), "--quiet", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for(predicate, timeout: float = 240.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def _descendants(pid: int) -> set[int]:
    out, todo = set(), [pid]
    while todo:
        res = subprocess.run(["pgrep", "-P", str(todo.pop())], capture_output=True, text=True)
        kids = {int(x) for x in res.stdout.split()}
        todo.extend(kids - out)
        out |= kids
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return "\nState:\tZ" not in state


def test_sigkill_then_resume_gives_the_uninterrupted_metrics(tmp_path, data_root):
    cfg = _config(tmp_path, workers=1)
    whole = _train(cfg, tmp_path / "whole", data_root)
    assert whole.wait(timeout=600) == 0, whole.stderr.read()

    out = tmp_path / "killed"
    partial = out.with_name("killed.partial") / "checkpoints"
    proc = _train(cfg, out, data_root)
    # kill while the second member is half-way: the first is finished, the second has a loop state
    _wait_for(lambda: (partial / "member_0.json").is_file() and (partial / "resume_member_1.pt").is_file())
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not out.exists() and (partial / "member_0.pt").is_file()

    resumed = _train(cfg, out, data_root, "--resume")
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()
    a = pd.read_parquet(tmp_path / "whole" / "metrics.parquet")
    b = pd.read_parquet(out / "metrics.parquet")
    pd.testing.assert_frame_equal(a, b)
    assert not list(out.glob("checkpoints/resume_*"))


def test_resume_with_another_config_is_refused(tmp_path, data_root):
    out = tmp_path / "run"
    partial = out.with_name("run.partial")
    proc = _train(_config(tmp_path, workers=1), out, data_root)
    _wait_for(lambda: (partial / "checkpoints" / "resume_member_0.pt").is_file())
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    other = _train(_config(tmp_path, workers=1, lr=0.002), out, data_root, "--resume")
    assert other.wait(timeout=120) == 2
    err = other.stderr.read()
    assert "another config" in err and "Traceback" not in err
    state = partial / "checkpoints" / "resume_member_0.pt"
    assert state.is_file()  # the refusal kept the unfinished run for a --resume with its own config
    state.write_bytes(state.read_bytes()[:100])  # a truncated loop state
    damaged = _train(_config(tmp_path, workers=1), out, data_root, "--resume")
    assert damaged.wait(timeout=120) == 2
    err = damaged.stderr.read().strip()
    assert "unreadable resume state" in err and str(state) in err and "Traceback" not in err
    assert state.is_file() and not out.exists()
    nothing = _train(_config(tmp_path, workers=1), tmp_path / "never_started", data_root, "--resume")
    assert nothing.wait(timeout=120) == 2 and "nothing to resume" in nothing.stderr.read()


def test_killing_the_parent_of_two_workers_leaves_no_worker(tmp_path, data_root):
    out = tmp_path / "run"
    partial = out.with_name("run.partial") / "checkpoints"
    proc = _train(_config(tmp_path, workers=2, epochs=200, patience=200), out, data_root)
    _wait_for(lambda: (partial / "resume_member_0.pt").is_file() and (partial / "resume_member_1.pt").is_file())
    children = _descendants(proc.pid)
    assert len(children) >= 2
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    end = time.monotonic() + 15
    while time.monotonic() < end and any(_alive(c) for c in children):
        time.sleep(0.2)
    assert not [c for c in children if _alive(c)]
