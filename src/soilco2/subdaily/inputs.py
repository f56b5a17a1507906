"""Inputs of an S2 run: which drivers feed the past and future branches (configured, or proposed
by lagged mutual information), the hold-out window of the extrapolation scenario and each
scenario's split of the samples."""

from __future__ import annotations

import numpy as np
import pandas as pd

from soilco2.errors import UserError
from soilco2.subdaily import data as prep
from soilco2.subdaily.config import SubdailyConfig
from soilco2.subdaily.mutual_info import mi_table, peak_lags, propose_input_design


def _available(table: pd.DataFrame, d: str) -> bool:
    return d in table.columns and bool(table[d].notna().any())


def holdout_window(cfg: SubdailyConfig, table: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The extrapolation test window: configured, or the last wet ``holdout_months``."""
    if not cfg.scenarios.holdout_start:
        return prep.default_holdout(table, cfg.scenarios.holdout_months)
    start = pd.Timestamp(cfg.scenarios.holdout_start)
    end = (
        pd.Timestamp(cfg.scenarios.holdout_end)
        if cfg.scenarios.holdout_end
        else start + pd.DateOffset(months=cfg.scenarios.holdout_months)
    )
    t0, t1 = table.index[0], table.index[-1]
    if end <= t0 or start >= t1:
        raise UserError(
            f"held-out window {start.date()} → {end.date()} lies outside the data ({t0.date()} → {t1.date()})",
            field="scenarios.holdout_start",
        )
    return start, end


def resolve_inputs(cfg: SubdailyConfig, table: pd.DataFrame) -> tuple[list[str], list[str], dict, np.ndarray | None]:
    """Past / future drivers of the models → (past, future, info, interval labels or None).

    Explicit lists: every listed driver must exist at the site (else UserError). ``auto``: the
    candidates the site lacks are dropped with a warning (``info['warnings']``); the branches come
    from :func:`propose_input_design` on the lagged MI computed with every scenario's *test* fluxes
    masked (extrapolation hold-out window; interpolation test intervals, drawn over the flux
    intervals by :func:`prep.interval_labels`, which then also define the interpolation split).
    """
    inp, site = cfg.inputs, cfg.site.name
    avail = [
        c
        for c in table.columns
        if not c.startswith("flux") and _available(table, c) and pd.api.types.is_float_dtype(table[c])
    ]
    for field, val in (("inputs.past", inp.past), ("inputs.future", inp.future)):
        if val != "auto":
            missing = [d for d in val if not _available(table, d)]
            if missing:
                raise UserError(
                    f"input driver(s) {', '.join(missing)} in {field} not available at site '{site}' "
                    f"(available: {', '.join(avail)}); set '{field.split('.')[1]}: auto' to use what "
                    "the site has",
                    field=field,
                )
    info: dict = {
        "mode": {
            "past": "auto" if inp.past == "auto" else "explicit",
            "future": "auto" if inp.future == "auto" else "explicit",
        },
        "warnings": [],
        "notes": [],
    }
    if inp.past != "auto" and inp.future != "auto":
        return list(inp.past), list(inp.future), info, None
    pool = list(inp.candidates) if inp.past == "auto" else list(inp.past)
    if "soil_temp_c" not in pool:
        pool.insert(0, "soil_temp_c")  # the models and the Q10 baselines need it
    dropped = [d for d in pool if not _available(table, d)]
    pool = [d for d in pool if d not in dropped]
    if dropped:
        info["warnings"].append(
            f"input(s) {', '.join(dropped)} not available at site '{site}': dropped from "
            "the model inputs (inputs: auto)"
        )
    info["dropped_unavailable"] = dropped
    # the design sees no test flux of any scenario
    test = np.zeros(len(table), bool)
    row_labels = None
    if "interpolation" in cfg.scenarios.run:
        row_labels = prep.interval_labels(table["flux_umol_m2_s"].notna().to_numpy(), cfg.seed)
        test |= row_labels == prep.TEST
    if "extrapolation" in cfg.scenarios.run:
        start, end = holdout_window(cfg, table)
        test |= (table.index >= start) & (table.index < end)
    masked = table.copy()
    masked.loc[test, "flux_umol_m2_s"] = np.nan
    design_mi = mi_table(masked, pool, max_lag_hours=cfg.mi.max_lag_hours, bins=cfg.mi.bins)
    design = propose_input_design(design_mi)
    info["design_on_non_test"] = {
        **design,
        "masked_test_intervals": int(test.sum()),
        "mi_peak_lag_hours": {r.driver: r.peak_lag_hours for r in peak_lags(design_mi).itertuples()},
    }
    past = [d for d in pool if d in design["past"]] if inp.past == "auto" else list(inp.past)
    if "soil_temp_c" not in past:
        past.insert(0, "soil_temp_c")
    future = [d for d in design["future"] if d in pool] if inp.future == "auto" else list(inp.future)
    if not future:
        future = ["soil_temp_c"]
        info["notes"].append(
            "the MI helper put no driver in the future branch; soil_temp_c used "
            "(the past/future LSTM needs one; the one-way LSTM is the no-future model)"
        )
    return past, future, info, row_labels


def scenario_labels(
    cfg: SubdailyConfig, scenario: str, table: pd.DataFrame, win, row_labels: np.ndarray | None = None
) -> tuple[np.ndarray, dict]:
    if scenario == "interpolation":
        if row_labels is not None:  # inputs: auto — the split the input design was made on
            return row_labels[win.row], {"split": "per_interval"}
        return prep.split_interpolation(len(win.time), cfg.seed), {"split": "per_sample"}
    start, end = holdout_window(cfg, table)
    return prep.split_extrapolation(win.time, start, end, cfg.seed), {
        "holdout_start": str(start),
        "holdout_end": str(end),
    }
