"""S2 input design: `inputs: auto` (availability + MI helper on non-test data) vs explicit lists."""

import json

import numpy as np
import pandas as pd
import pytest

from soilco2.errors import UserError
from soilco2.subdaily import data as prep
from soilco2.subdaily.config import SubdailyConfig
from soilco2.subdaily.inputs import resolve_inputs


def _smooth(rng, n, width=12):
    return np.convolve(rng.normal(size=n + width), np.ones(width) / width, mode="valid")[:n]


def _table(n_days=120, seed=0):
    """Flux driven by soil T three hours *ahead* and SWC six hours *behind* (known lags); no rain."""
    rng = np.random.default_rng(seed)
    n = 24 * n_days
    t = pd.date_range("2019-01-01", periods=n, freq="1h", name="time")
    temp = 15 + 5 * _smooth(rng, n)
    swc = 0.2 + 0.05 * _smooth(rng, n)
    flux = 0.5 * 2 ** ((np.roll(temp, -3) - 10) / 10) * (1 + 4 * (np.roll(swc, 6) - 0.2))
    return pd.DataFrame({"flux_umol_m2_s": flux, "soil_temp_c": temp, "swc_m3_m3": swc}, index=t)


def _cfg(**inputs):
    return SubdailyConfig.model_validate(
        {"site": {"name": "synthetic"}, "inputs": inputs, "scenarios": {"holdout_months": 1}}
    )


def test_auto_drops_unavailable_and_designs_on_non_test_data():
    table = _table()
    past, future, info, rows = resolve_inputs(_cfg(), table)
    assert info["dropped_unavailable"] == ["precip_mm"] and "precip_mm" in info["warnings"][0]
    assert past == ["soil_temp_c", "swc_m3_m3"]
    assert future == ["soil_temp_c"]  # flux leads soil T (MI peaks at τ = −3 h); SWC stays past-only
    lags = info["design_on_non_test"]["mi_peak_lag_hours"]
    assert lags["soil_temp_c"] == -3 and lags["swc_m3_m3"] == 6
    # the design never saw a test flux: interpolation test intervals ∪ the extrapolation hold-out
    start, end = prep.default_holdout(table, 1)
    hold = (table.index >= start) & (table.index < end)
    assert info["design_on_non_test"]["masked_test_intervals"] == int(((rows == prep.TEST) | hold).sum())
    assert np.bincount(rows[rows >= 0]).tolist() == [
        round(0.8 * len(table)),
        round(0.1 * len(table)),
        len(table) - round(0.8 * len(table)) - round(0.1 * len(table)),
    ]


def test_search_grid():
    from soilco2.subdaily.run import search_grid

    cfg = SubdailyConfig.model_validate(
        {"site": {"name": "s"}, "search": {"hidden": [8, 16], "lr": [0.01], "dropout": [0.0, 0.3]}}
    )
    assert search_grid(cfg) == [{"hidden": h, "lr": 0.01, "dropout": d} for h in (8, 16) for d in (0.0, 0.3)]
    assert search_grid(SubdailyConfig.model_validate({"site": {"name": "s"}})) == [
        {"hidden": 16, "lr": 0.003},
        {"hidden": 32, "lr": 0.003},
    ]  # the default grid (dropout from train)


def test_explicit_missing_input_is_an_error_and_explicit_lists_are_kept():
    table = _table(30)
    with pytest.raises(UserError, match="precip_mm") as err:
        resolve_inputs(_cfg(past=["soil_temp_c", "precip_mm"], future=["soil_temp_c"]), table)
    assert err.value.field == "inputs.past"
    past, future, info, rows = resolve_inputs(_cfg(past=["swc_m3_m3", "soil_temp_c"], future=["swc_m3_m3"]), table)
    assert (past, future, rows, info["warnings"]) == (["swc_m3_m3", "soil_temp_c"], ["swc_m3_m3"], None, [])


@pytest.mark.realdata
def test_spanish_dataset_runs_with_default_inputs(data_root, tmp_path):
    """d20200423_OYONARTE has no precipitation: the default run warns, records it and finishes;
    asking for precipitation explicitly is a one-line user error."""
    from typer.testing import CliRunner

    from soilco2.cli import app

    base = f"""
site: {{name: ES-Oyonarte, dataset: d20200423_OYONARTE, start: "2012-06-01", end: "2012-08-01"}}
data_root: {data_root}
out_dir: {tmp_path / "run"}
models: [pastfuture_lstm, q10]
scenarios: {{holdout_start: "2012-07-15", holdout_end: "2012-08-01"}}
sweep: {{past_hours: [6]}}
search: {{hidden: [4, 8], lr: [0.01], dropout: [0.0]}}
train: {{epochs: 1, batches_per_epoch: 3, batch_size: 64}}
mi: {{max_lag_hours: 6}}
"""
    cfg = tmp_path / "oy.yaml"
    cfg.write_text(base)
    res = CliRunner().invoke(app, ["subdaily", "run", str(cfg)])
    assert res.exit_code == 0, res.output
    design = json.loads((tmp_path / "run" / "input_design.json").read_text())
    assert design["dropped_unavailable"] == ["precip_mm"] and "precip_mm" in design["warnings"][0]
    assert "soil_temp_c" in design["used"]["past"] and "precip_mm" not in design["used"]["past"]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["warnings"] == design["warnings"] and summary["extrapolation"]["pastfuture_lstm"]["n"] > 100
    assert "Warnings" in (tmp_path / "run" / "index.html").read_text()
    search = pd.read_parquet(tmp_path / "run" / "search.parquet")  # hidden × lr × dropout, per scenario
    assert len(search) == 4 and set(search.hidden) == {4, 8} and (search.dropout == 0.0).all()
    cfg.write_text(base + "inputs: {past: [soil_temp_c, precip_mm]}\n")
    res = CliRunner().invoke(app, ["subdaily", "run", str(cfg)])
    assert isinstance(res.exception, UserError) and "precip_mm" in str(res.exception)
    assert res.exception.file == str(cfg) and res.exception.field == "inputs.past"  # the CLI names the config file
