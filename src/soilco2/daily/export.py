"""Export the S1 daily dataset in neuralhydrology's generic-dataset layout, so that users of that
library can train on COSORE with their own tool on exactly our inputs and split.

``<out>/time_series/<site>.nc``: one NetCDF per site with the coordinate ``date`` (the site's
driver span), every model input of the config — drivers, availability channels and derived
channels, as soilco2 feeds them (scaled on the training days, 0 where a driver is missing) — and
the target ``flux_umol_m2_s`` in µmol m-2 s-1 (NaN on days without an observation).
``<out>/attributes/attributes.csv``: the static inputs, one row per site (index: site id).
``<out>/sites.txt``: the site ids (nh's train, validation and test basin files).
``<out>/periods.csv``: per site the first and last day of its training, validation and test
periods (our temporal split). neuralhydrology reads per-basin periods from a pickle of
``{site: {"start_dates": [...], "end_dates": [...]}}``; soilco2 writes no pickles, so
:func:`nh_periods` builds that mapping for the caller to save (``benchmarks/peer_neuralhydrology.py``
does). ``<out>/nh_config.yml``: a neuralhydrology config with our model settings mapped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

TARGET = "flux_umol_m2_s"


def _load_config(source: Path):
    from soilco2.config import load_config
    from soilco2.daily.config import DailyConfig

    source = Path(source)
    if source.is_dir():  # a run folder: its config as trained, checked against its manifest
        from soilco2.daily.run import load_run_config

        return load_run_config(source)
    return load_config(source, DailyConfig)


def site_periods(a) -> pd.DataFrame:
    """Per site the first and last day of the training, validation and test periods."""
    rows = []
    for i, site in enumerate(a.sites):
        t = a.time
        lab = a.split[i]
        val = np.flatnonzero(lab == 1)
        test = np.flatnonzero(lab == 2)
        rows.append(
            {
                "site": site,
                "train_start": t[a.start[i]],
                "train_end": t[a.train_end[i] - 1],
                "validation_start": t[val[0]] if val.size else pd.NaT,
                "validation_end": t[val[-1]] if val.size else pd.NaT,
                "test_start": t[test[0]] if test.size else pd.NaT,
                "test_end": t[a.stop[i] - 1] if test.size else pd.NaT,
            }
        )
    return pd.DataFrame(rows)


def nh_periods(periods: pd.DataFrame, which: str) -> dict:
    """neuralhydrology's per-basin periods for ``which`` (train, validation or test)."""
    p = periods.dropna(subset=[f"{which}_start"])
    return {
        str(r["site"]): {
            "start_dates": [pd.Timestamp(r[f"{which}_start"])],
            "end_dates": [pd.Timestamp(r[f"{which}_end"])],
        }
        for _, r in p.iterrows()
    }


def nh_config(cfg, a, data_dir: str) -> dict:
    """A neuralhydrology config as close to ``cfg`` as nh allows (see docs/daily.md: what differs)."""
    t, m = cfg.training, cfg.model
    return {
        "experiment_name": "soilco2_cosore",
        "dataset": "generic",
        "data_dir": data_dir,
        "train_basin_file": "sites.txt",
        "validation_basin_file": "sites.txt",
        "test_basin_file": "sites.txt",
        "per_basin_train_periods_file": "periods_train.p",
        "per_basin_validation_periods_file": "periods_validation.p",
        "per_basin_test_periods_file": "periods_test.p",
        "model": "cudalstm",
        "hidden_size": int(m.hidden_size),
        "output_dropout": float(m.dropout),
        "initial_forget_bias": 3,
        "head": "regression",
        "optimizer": "Adam",
        "loss": "NSE" if t.site_normalised_loss else "MSE",  # NSE: squared errors over each site's variance
        "learning_rate": float(t.lr),
        "batch_size": int(t.batch_size),
        "epochs": int(t.epochs),
        "max_updates_per_epoch": int(t.batches_per_epoch),  # our epoch: that many batches
        "seq_length": int(t.warmup_days + t.window_days),  # our unscored warm-up + scored window
        "predict_last_n": int(t.window_days),
        "dynamic_inputs": _varying(a),
        # nh refuses attributes that are constant over the sites (they carry nothing either)
        "static_attributes": [f for k, f in enumerate(a.static_features) if np.nanstd(a.x_static[:, k]) > 0],
        "target_variables": [TARGET],
        "clip_targets_to_zero": [TARGET],
        "device": "cpu",
        "num_workers": 0,
        "validate_every": int(t.epochs) + 1,
        "log_interval": 1,
        "save_weights_every": int(t.epochs),
        "seed": int(t.seed),
    }


def _varying(a) -> list[str]:
    """Dynamic inputs that vary over the training days: nh scales each input by its SD there and
    gets NaN (so no valid sample) from a constant one, e.g. an availability channel always 1."""
    train = a.split == 0
    return [f for k, f in enumerate(a.dynamic_features) if np.std(a.x_dynamic[:, :, k][train]) > 0]


def export_neuralhydrology(source: str | Path, out: str | Path, progress: bool = True, replace: bool = False) -> Path:
    """Write the export of the config (or of a run folder's config) ``source`` into ``out``."""
    import xarray as xr
    import yaml

    from soilco2 import cf
    from soilco2.daily.run import prepare
    from soilco2.files import check_destination, run_folder, write_parquet, write_text_atomic
    from soilco2.progress import track

    check_destination(out, "neuralhydrology-export", replace=replace)  # before the dataset is built
    cfg = _load_config(Path(source))
    ds_all, a, _ = prepare(cfg)
    obs = ds_all[TARGET].transpose("site", "time").sel(site=a.sites, time=a.time).values
    out = Path(out)
    with run_folder(out, "neuralhydrology-export", replace=replace) as tmp:
        (tmp / "time_series").mkdir()
        (tmp / "attributes").mkdir()
        for i in track(range(a.n_sites), "sites", progress):
            span = slice(a.start[i], a.stop[i])
            data = {
                f: ("date", a.x_dynamic[i, span, k].astype("f4"), {"long_name": f"LSTM input {f} (gaps filled)"})
                for k, f in enumerate(a.dynamic_features)
            }
            ds = xr.Dataset(data, coords={"date": a.time[span]})
            ds[TARGET] = ("date", obs[i, span].astype("f4"), {"units": cf.CO2_FLUX_UNITS, "standard_name": cf.CO2_FLUX,
                                                             "cell_methods": "date: mean"})  # fmt: skip
            ds["date"].attrs = {"standard_name": "time", "long_name": "day (local standard time)"}
            cf.write(ds, tmp / "time_series" / f"{a.sites[i]}.nc", title=f"daily drivers and efflux of {a.sites[i]}")
        attrs = pd.DataFrame(a.x_static, index=pd.Index(a.sites, name="site"), columns=a.static_features)
        attrs.to_csv(tmp / "attributes" / "attributes.csv")
        write_text_atomic(tmp / "sites.txt", "\n".join(a.sites) + "\n")
        periods = site_periods(a)
        periods.to_csv(tmp / "periods.csv", index=False, date_format="%Y-%m-%d")
        write_parquet(periods, tmp / "periods.parquet", index=False)
        write_text_atomic(tmp / "nh_config.yml", yaml.safe_dump(nh_config(cfg, a, str(out.resolve())), sort_keys=False))
    return out
