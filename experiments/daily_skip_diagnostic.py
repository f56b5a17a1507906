"""Diagnostic for the linear-skip hypothesis (issue #3), on cached variant ensembles of
experiments/daily_variants.py: do sites whose test period leaves the training temperature range
gain from the linear path? Test days only, for information — never for choosing a variant.

    .venv/bin/python experiments/daily_skip_diagnostic.py base skip_global skip_static

Per site: share of test days whose soil temperature lies outside the [min, max] of the site's
training + validation days ("out of range"); groups: ≥ 25 % out of range vs the rest, and (as in
docs/decisions.md) in-situ soil temperature on every test day vs on none. Per group and
variant (4-member ensemble means): median test NSE, KGE, variability ratio α and |β − 1|.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("variants", nargs="+")
    ap.add_argument("--members", type=int, nargs="*", default=[0, 1, 2, 3])
    ap.add_argument("--threshold", type=float, default=0.25, help="share of test days out of range")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/soilco2_daily_variants"))
    args = ap.parse_args()

    from soilco2.daily.arrays import TEST, TRAIN, VALIDATION
    from soilco2.daily.config import DailyConfig
    from soilco2.daily.run import prepare
    from soilco2.metrics import score

    cfg = DailyConfig.model_validate(yaml.safe_load((ROOT / "configs" / "daily.yaml").read_text()))
    ds, a, _ = prepare(cfg)
    temp = ds["soil_temp_c"].transpose("site", "time").values
    out_share = np.full(a.n_sites, np.nan)
    for i in range(a.n_sites):
        tr, te = np.isin(a.split[i], (TRAIN, VALIDATION)), a.split[i] == TEST
        if te.any():
            lo, hi = np.nanmin(temp[i, tr]), np.nanmax(temp[i, tr])
            out_share[i] = float(np.mean((temp[i, te] < lo) | (temp[i, te] > hi)))
    avail = ds["avail_soil_temp_c"].transpose("site", "time").values
    insitu = np.array(
        [np.mean(avail[i, a.split[i] == TEST]) if (a.split[i] == TEST).any() else np.nan for i in range(a.n_sites)]
    )
    groups = {
        "out_of_range": out_share >= args.threshold,
        "in_range": out_share < args.threshold,
        "insitu_all_test_days": insitu == 1,
        "insitu_no_test_day": insitu == 0,
    }
    print(json.dumps({"sites": {k: int(v.sum()) for k, v in groups.items()}, "threshold": args.threshold}))
    for name in args.variants:
        d = args.cache / name
        obs = np.load(d / "obs.npy")
        pred = np.mean([np.load(d / f"member_{k}.npy") for k in args.members], 0)
        rows = []
        for i in range(a.n_sites):
            m = (a.split[i] == TEST) & np.isfinite(obs[i])
            if m.sum() < 3:
                rows.append(None)
                continue
            o, p = obs[i, m], pred[i, m]
            rows.append(
                score(o, p, ("nse", "kge"))
                | {"alpha": float(np.std(p) / np.std(o)), "abs_beta_1": float(abs(np.mean(p) / np.mean(o) - 1))}
            )
        for g, sel in groups.items():
            r = [rows[i] for i in np.flatnonzero(sel) if rows[i] is not None]
            print(
                json.dumps(
                    {
                        "variant": name,
                        "group": g,
                        "sites": len(r),
                        **{
                            f"median_{k}": round(float(np.nanmedian([x[k] for x in r])), 3)
                            for k in ("nse", "kge", "alpha", "abs_beta_1")
                        },
                    }
                )
            )


if __name__ == "__main__":
    main()
