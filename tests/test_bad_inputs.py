"""Hostile but realistic input across the command groups: every case ends with exit 2 and one
message line naming the file and field, no traceback, and a pre-existing run folder unchanged.

The CLI runs in-process (``soilco2.cli.main``), so the ~100 cases take seconds."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from soilco2.cli import main

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "daily": (ROOT / "configs" / "daily_tiny.yaml", ["daily", "train"]),
    "global": (ROOT / "configs" / "global_tiny.yaml", ["global", "run"]),
    "subdaily": (ROOT / "configs" / "subdaily_wkg.yaml", ["subdaily", "mi"]),
}


def run_cli(capsys, *args) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in args])
    err = capsys.readouterr().err
    return stop.value.code, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in err, (needle, err)


@pytest.fixture
def finished_run(tmp_path: Path) -> Path:
    """A folder that looks like a finished soilco2 run, to prove that a failing command leaves it."""
    from soilco2.files import RUN_MARKER

    run = tmp_path / "existing"
    run.mkdir()
    (run / RUN_MARKER).write_text("{}")
    (run / "config.yaml").write_text("seed: 0\n")
    (run / "summary.json").write_text('{"kept": true}')
    return run


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _set(data: dict, dotted: str, value) -> dict:
    keys = dotted.split(".")
    node = data
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value
    return data


# ---------------------------------------------------------------- config values
VALUE_CASES = [
    # (config, dotted field, bad value)
    ("daily", "training.lr", float("inf")),
    ("daily", "training.lr", float("nan")),
    ("daily", "training.lr", -0.1),
    ("daily", "training.lr", 5.0),
    ("daily", "training.target_arcsinh_scale", float("inf")),
    ("daily", "training.target_arcsinh_scale", 0),
    ("daily", "model.hidden_size", 2e9),
    ("daily", "model.hidden_size", 0),
    ("daily", "model.dropout", 1.0),
    ("daily", "model.num_layers", 9),
    ("daily", "training.seed", -1),
    ("daily", "training.seed", 2**40),
    ("daily", "training.ensemble", 0),
    ("daily", "training.ensemble", 1000),
    ("daily", "training.epochs", 0),
    ("daily", "training.batch_size", 10**7),
    ("daily", "training.window_days", -5),
    ("daily", "training.warmup_days", 10**6),
    ("daily", "training.workers", 0),
    ("daily", "training.threads", 1000),
    ("daily", "training.recency_halflife_days", float("inf")),
    ("daily", "training.input_noise", float("nan")),
    ("daily", "training.finetune_lr", float("inf")),
    ("daily", "split.train_fraction", 1.5),
    ("daily", "split.train_fraction", float("nan")),
    ("daily", "baselines.rf_min_samples_leaf", 10**9),
    ("daily", "baselines.rf_trees", 0),
    ("daily", "tune.val_fraction", 1.0),
    ("daily", "name", "../outside"),
    ("daily", "name", "a/b"),
    ("daily", "training.bogus", 1),
    ("global", "n_bootstrap", 0),
    ("global", "n_trees", 0),
    ("global", "min_samples_leaf", 10**9),
    ("global", "cv_folds", 100000),
    ("global", "cv_folds", 1),
    ("global", "max_distance_km", float("inf")),
    ("global", "max_distance_km", float("nan")),
    ("global", "strata.mat_edges_c", [0.0, float("nan")]),
    ("global", "strata.map_edges_mm", [500.0, 250.0]),
    ("global", "seed", -1),
    ("global", "max_features", float("nan")),
    ("global", "unknown_key", 3),
    ("global", "covariates", ["mat_c", "leaf_area"]),
    ("global", "covariates", []),
    ("global", "sampling", "by_biome"),
    ("global", "rh_model", "ratio"),
    ("global", "train_fraction", 1.0),
    ("global", "quantile_every", 0),
    ("global", "n_workers", 0),
    ("global", "landcover_file", "/no/such/landcover.tif"),
    ("subdaily", "mi.max_lag_hours", 1e9),
    ("subdaily", "mi.max_lag_hours", float("inf")),
    ("subdaily", "search.lr", [float("inf")]),
    ("subdaily", "search.lr", [0.0]),
    ("subdaily", "search.hidden", [2_000_000_000]),
    ("subdaily", "sweep.past_hours", [1e9]),
    ("subdaily", "train.epochs", 0),
    ("subdaily", "seed", -1),
]


@pytest.mark.parametrize("which, field, value", VALUE_CASES, ids=[f"{w}:{f}={v!r}" for w, f, v in VALUE_CASES])
def test_config_value_is_refused_naming_the_field(which, field, value, tmp_path, finished_run, capsys):
    path, command = CONFIGS[which]
    data = _set(yaml.safe_load(path.read_text()), field, value)
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump(data))
    before = _snapshot(finished_run)
    code, err = run_cli(capsys, *command, cfg, "--out", finished_run)
    named = value if field == "landcover_file" else "bad.yaml"  # a missing input file is named itself
    assert_one_line_error(code, err, named, field)
    assert _snapshot(finished_run) == before


# ---------------------------------------------------------------- config files
FILE_CASES = {
    "empty": (b"", "empty"),
    "only_comment": (b"# nothing here\n", "empty"),
    "duplicate_key": (b"seed: 0\nseed: 1\n", "duplicate key 'seed'"),
    "not_utf8": ("seed: 0\n# caf\u00e9\n".encode("latin-1"), "not UTF-8"),
    "not_yaml": (b"seed: [0\n", "not valid YAML"),
    "top_level_list": (b"- 1\n- 2\n", "mapping"),
    "tab_indented": (b"training:\n\tlr: 1\n", "not valid YAML"),
}


@pytest.mark.parametrize("which", sorted(CONFIGS))
@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_broken_config_file_is_refused(which, case, tmp_path, finished_run, capsys):
    content, needle = FILE_CASES[case]
    cfg = tmp_path / "broken.yaml"
    cfg.write_bytes(content)
    before = _snapshot(finished_run)
    code, err = run_cli(capsys, *CONFIGS[which][1], cfg, "--out", finished_run)
    assert_one_line_error(code, err, "broken.yaml", needle)
    assert _snapshot(finished_run) == before


@pytest.mark.parametrize("which", sorted(CONFIGS))
def test_missing_config_file(which, tmp_path, capsys):
    code, err = run_cli(capsys, *CONFIGS[which][1], tmp_path / "nope.yaml")
    assert_one_line_error(code, err, "nope.yaml", "not found")


# ---------------------------------------------------------------- CLI usage
USAGE_CASES = [
    (["nosuch"], "nosuch"),
    (["daily", "nosuch"], "nosuch"),
    (["daily", "train"], "config"),
    (["daily", "train", "configs/daily_tiny.yaml", "--bogus"], "--bogus"),
    (["daily", "gapfill", "x", "--neighbours", "abc"], "neighbours"),
    (["daily", "gapfill", "x", "--neighbours", "0"], "neighbours"),
    (["daily", "predict", "x"], "cosore"),
    (["global", "run"], "config"),
    (["global", "benchmark"], "run_dir"),
    (["subdaily", "run"], "config"),
    (["data", "build", "--out"], "--out"),
]


@pytest.mark.parametrize("args, needle", USAGE_CASES, ids=[" ".join(a) for a, _ in USAGE_CASES])
def test_usage_error_is_one_line(args, needle, capsys):
    code, err = run_cli(capsys, *args)
    assert_one_line_error(code, err, needle)


@pytest.mark.parametrize("args", [[], ["daily"], ["global"], ["data"], ["--help"]])
def test_help_without_traceback(args, capsys):
    code = 0
    try:
        main(args)
    except SystemExit as stop:
        code = stop.code
    out = capsys.readouterr()
    assert code in (0, None) and "Usage" in out.out and "Traceback" not in out.err


# ---------------------------------------------------------------- run folders and outputs
RUN_COMMANDS = [["daily", "evaluate"], ["daily", "report"], ["daily", "gapfill"], ["global", "benchmark"]]


@pytest.mark.parametrize("command", RUN_COMMANDS, ids=[" ".join(c) for c in RUN_COMMANDS])
def test_run_commands_on_a_missing_folder(command, tmp_path, capsys):
    code, err = run_cli(capsys, *command, tmp_path / "no_run")
    assert_one_line_error(code, err, "no_run")


@pytest.mark.parametrize("command", [["daily", "evaluate"], ["daily", "report"]])
def test_run_commands_on_a_foreign_folder(command, tmp_path, capsys):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    (foreign / "predictions.nc").write_text("not a netcdf")
    code, err = run_cli(capsys, *command, foreign)
    assert_one_line_error(code, err, "foreign")
    assert (foreign / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("which", ["daily", "global"])
def test_output_folder_not_created_by_soilco2_is_never_touched(which, tmp_path, capsys):
    mine = tmp_path / "my_results"
    mine.mkdir()
    (mine / "config.yaml").write_text("my own notes\n")
    (mine / "thesis.docx").write_bytes(b"precious")
    before = _snapshot(mine)
    code, err = run_cli(capsys, *CONFIGS[which][1], CONFIGS[which][0], "--out", mine)
    assert_one_line_error(code, err, "my_results", "not written by soilco2")
    assert _snapshot(mine) == before


@pytest.mark.parametrize("which", ["daily", "global"])
def test_output_path_under_a_file(which, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    code, err = run_cli(capsys, *CONFIGS[which][1], CONFIGS[which][0], "--out", blocker / "run")
    assert_one_line_error(code, err, "a_file")


@pytest.mark.realdata
def test_unreachable_dask_scheduler(tmp_path, finished_run, capsys, data_root, monkeypatch):
    monkeypatch.setenv("SOILCO2_DATA", str(data_root))
    data = yaml.safe_load(CONFIGS["global"][0].read_text()) | {"scheduler_address": "tcp://127.0.0.1:9"}
    cfg = tmp_path / "cluster.yaml"
    cfg.write_text(yaml.safe_dump(data))
    before = _snapshot(finished_run)
    code, err = run_cli(capsys, "global", "run", cfg, "--out", finished_run)
    assert_one_line_error(code, err, "scheduler_address", "127.0.0.1:9")
    assert _snapshot(finished_run) == before
