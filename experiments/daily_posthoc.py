"""Post-hoc corrections of S1 LSTM predictions, each fitted on training days only — diagnostics of
where the test-period error comes from (docs/decisions.md, E04); none is part of the pipeline.

    .venv/bin/python experiments/daily_posthoc.py ports runs/daily       # chamber-port composition
    .venv/bin/python experiments/daily_posthoc.py lastbias runs/daily    # bias of the last training days
    .venv/bin/python experiments/daily_posthoc.py lastbias inner8_rec365 --pick 0 1 2 3 4 5   # nested check
    .venv/bin/python experiments/daily_posthoc.py meanbias inner8_fthl90 --pick 0 1 2 3 4 5   # retransformation bias
    .venv/bin/python experiments/daily_posthoc.py anchor inner8_fthl90 --pick 0 1 2 3 4 5     # decaying last error
    .venv/bin/python experiments/daily_posthoc.py inflate inner8_rec365 --pick 0 1 2 3 4 5   # amplitude
    .venv/bin/python experiments/daily_posthoc.py blend inner8_fthl90 --other inner8_fthl90_global --pick 0 1 2 3 4 5
    .venv/bin/python experiments/daily_posthoc.py mix inner8_fthl90:3 --with s12_h32:3   # members of two variants
    .venv/bin/python experiments/daily_posthoc.py aggregate i75_default --pick 0 1 2 3 4 5   # median of the members

``ports``: per-port daily means on training days are fitted as day level × port factor
(alternating least squares, factors of ports with ≥ 5 training days, mean 1); each day's
prediction is multiplied by the mean factor of the ports measured that day over its mean on
training days. ``lastbias``: the mean error of the last k observed training days is carried into
the test period (added, or as a ratio). ``anchor``: the same error added with a weight that decays
with the days since the last training day, exp(−days / τ), or (``ar1``) as φ^days with φ the
lag-1 autocorrelation of the site's training-day errors. ``meanbias``: the mean error of all training days (or
recency-weighted), the arcsinh target's retransformation bias, removed everywhere. ``inflate``: per-site variance matching on training days,
or the anomaly around the site's training-day mean prediction scaled by γ, in flux or arcsinh
space. ``blend``: a weighted mean with another cached variant (the fine-tuned members with the
all-site members they started from). ``mix``: ensembles that draw ``n`` members from each
``variant:n`` (random draws from all cached members, seed 0), scores averaged over ``--draws``.
``aggregate``: the members' median, or their mean in arcsinh space, instead of their mean.
One JSON line per correction: the median test scores and the
site-by-site comparison with the uncorrected predictions.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from daily_variants import _paired, _scores, member_files  # noqa: E402

TRAIN = 0


def _report(label: str, corrected: np.ndarray, pred: np.ndarray, obs: np.ndarray, split: np.ndarray) -> None:
    s = {k: v for k, v in _scores(corrected, obs, split).items() if k.startswith("test")}
    print(json.dumps({"correction": label, **s, **_paired(corrected, pred, obs, split)}))


def _run_arrays(run: Path):
    import xarray as xr

    ds = xr.open_dataset(run / "predictions.nc")
    return ds, ds["obs"].values, ds["split"].values, ds["lstm"].values


def _arrays(target: str, pick: list[int], cache: Path):
    """(obs, split, LSTM prediction) of a run folder, or of a cached variant's members ``pick``."""
    if (Path(target) / "predictions.nc").is_file():
        return _run_arrays(Path(target))[1:]
    d = cache / target
    return np.load(d / "obs.npy"), np.load(d / "split.npy"), np.mean([np.load(d / f"member_{k}.npy") for k in pick], 0)


def port_factors(per_port: np.ndarray, iterations: int = 50) -> np.ndarray:
    """(day, port) daily means (NaN unmeasured) -> port factors f (mean 1, NaN for ports with < 5
    days) of the fit value = level(day) × f(port), by alternating least squares."""
    m = np.isfinite(per_port)
    y = np.where(m, per_port, 0.0)
    f = np.ones(per_port.shape[1])
    seen = m.sum(0) >= 5
    for _ in range(iterations):
        level = np.nanmean(np.where(m & seen, per_port / f, np.nan), axis=1)
        level = np.nan_to_num(level)
        den = (np.where(m, level[:, None], 0.0) ** 2).sum(0)
        f = np.where(seen & (den > 0), (y * level[:, None]).sum(0) / np.maximum(den, 1e-12), np.nan)
        f = f / np.nanmean(f)
    return f


def ports(run: Path) -> None:
    import pandas as pd

    from soilco2.prep.cosore_records import load_records

    ds, obs, split, pred = _run_arrays(run)
    time = pd.DatetimeIndex(ds["time"].values)
    out = pred.copy()
    for i, site in enumerate(ds["site"].values):
        rec, _ = load_records(str(site), percentile_filter=True)
        rec["date"] = rec["time"].dt.floor("D")
        per_port = rec.groupby(["date", "port"])["flux_umol_m2_s"].mean().unstack()
        days = time.get_indexer(per_port.index)
        per_port, days = per_port[days >= 0], days[days >= 0]
        train = split[i, days] == TRAIN
        f = port_factors(per_port.to_numpy()[train])
        measured = np.isfinite(per_port.to_numpy())
        day_factor = np.full(time.size, np.nan)
        day_factor[days] = np.nanmean(np.where(measured, np.nan_to_num(f, nan=1.0)[None, :], np.nan), axis=1)
        ref = np.nanmean(day_factor[split[i] == TRAIN])
        out[i] = np.where(np.isfinite(day_factor), pred[i] * day_factor / ref, pred[i])
    _report("port factors", out, pred, obs, split)


def _train_days(obs: np.ndarray, split: np.ndarray, pred: np.ndarray, i: int) -> np.ndarray:
    """Indices of site ``i``'s training days with an observation and a prediction."""
    return np.flatnonzero((split[i] == TRAIN) & np.isfinite(obs[i]) & np.isfinite(pred[i]))


def _corrected(pred: np.ndarray, obs_days: np.ndarray, pred_days: np.ndarray, how: str, weights=None) -> np.ndarray:
    """``pred`` with the (weighted) mean error of some days removed: added, or as a ratio of means."""
    if how == "add":
        return pred + np.average(obs_days - pred_days, weights=weights)
    return pred * np.average(obs_days, weights=weights) / max(np.average(pred_days, weights=weights), 1e-6)


def lastbias(obs: np.ndarray, split: np.ndarray, pred: np.ndarray) -> None:
    for k in (15, 30, 60):
        for how in ("add", "ratio"):
            out = pred.copy()
            for i in range(pred.shape[0]):
                tr = _train_days(obs, split, pred, i)
                last, after = tr[-k:], np.arange(pred.shape[1]) > tr[-1]
                out[i, after] = _corrected(pred[i, after], obs[i, last], pred[i, last], how)
            _report(f"last {k} training days, {how}", out, pred, obs, split)


def anchor(obs: np.ndarray, split: np.ndarray, pred: np.ndarray) -> None:
    for k in (1, 3, 7):
        for tau in (7, 30, 90, "ar1"):
            out = pred.copy()
            for i in range(pred.shape[0]):
                tr = _train_days(obs, split, pred, i)
                if tr.size < max(k, 3):
                    continue
                days = np.arange(pred.shape[1]) - tr[-1]
                after = days > 0
                weight = np.exp(-days[after] / tau) if tau != "ar1" else _lag1(obs[i] - pred[i], tr) ** days[after]
                out[i, after] = pred[i, after] + weight * np.mean(obs[i, tr[-k:]] - pred[i, tr[-k:]])
            _report(f"last {k} training days' error, decay {tau}", out, pred, obs, split)


def _lag1(err: np.ndarray, days: np.ndarray) -> float:
    """Lag-1 autocorrelation of ``err`` over pairs of consecutive ``days`` (clipped to 0–0.99)."""
    pair = np.diff(days) == 1
    if pair.sum() < 10:
        return 0.0
    e = err[days] - err[days].mean()
    a, b = e[:-1][pair], e[1:][pair]
    return float(np.clip((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()), 0.0, 0.99))


def meanbias(obs: np.ndarray, split: np.ndarray, pred: np.ndarray) -> None:
    for halflife in (None, 365, 90):
        for how in ("add", "ratio"):
            out = pred.copy()
            for i in range(pred.shape[0]):
                tr = _train_days(obs, split, pred, i)
                if tr.size < 3:
                    continue
                w = np.ones(tr.size) if halflife is None else 2.0 ** (-(tr[-1] - tr) / halflife)
                out[i] = _corrected(pred[i], obs[i, tr], pred[i, tr], how, w)
            _report(f"all training days, half-life {halflife}, {how}", out, pred, obs, split)


def inflate(obs: np.ndarray, split: np.ndarray, pred: np.ndarray) -> None:
    for label, space, gamma in [("variance matching", "flux", None)] + [
        (f"gamma {g} {s}", s, g) for s in ("flux", "arcsinh") for g in (1.1, 1.2, 1.3)
    ]:
        out = pred.copy()
        for i in range(pred.shape[0]):
            m = (split[i] == TRAIN) & np.isfinite(pred[i]) & np.isfinite(obs[i])
            if m.sum() < 10:
                continue
            z = np.arcsinh(pred[i]) if space == "arcsinh" else pred[i]
            c = z[m].mean()
            if gamma is None:  # mean and std of the training days' observations
                out[i] = obs[i, m].mean() + (z - c) * obs[i, m].std() / max(z[m].std(), 1e-6)
                continue
            z = c + gamma * (z - c)
            out[i] = np.sinh(z) if space == "arcsinh" else z
        _report(label, out, pred, obs, split)


def blend(obs: np.ndarray, split: np.ndarray, pred: np.ndarray, other: np.ndarray) -> None:
    for w in (0.75, 0.5, 0.25):
        _report(f"{w:g} x this + {1 - w:g} x --other", w * pred + (1 - w) * other, pred, obs, split)


def mix(parts: list[str], cache: Path, draws: int) -> None:
    import random

    rng, pools, rows = random.Random(0), [], []
    for part in parts:
        name, n = part.rsplit(":", 1)
        pools.append(([np.load(f) for f in member_files(cache / name)], int(n)))
    d = cache / parts[0].rsplit(":", 1)[0]
    obs, split = np.load(d / "obs.npy"), np.load(d / "split.npy")
    for _ in range(draws):
        members = [m for pool, n in pools for m in rng.sample(pool, n)]
        rows.append({k: v for k, v in _scores(np.mean(members, 0), obs, split).items() if k.startswith("test")})
    print(
        json.dumps(
            {"mix": parts, "draws": draws} | {k: round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]}
        )
    )


def aggregate(target: str, pick: list[int], cache: Path) -> None:
    d = cache / target
    members = np.stack([np.load(d / f"member_{k}.npy") for k in pick])
    obs, split, mean = np.load(d / "obs.npy"), np.load(d / "split.npy"), members.mean(0)
    _report("median of the members", np.median(members, 0), mean, obs, split)
    _report("mean in arcsinh space", np.sinh(np.arcsinh(members).mean(0)), mean, obs, split)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["ports", "lastbias", "anchor", "meanbias", "inflate", "blend", "mix", "aggregate"])
    ap.add_argument("target", help="run folder, or a variant cached by daily_variants.py (not for ports)")
    ap.add_argument("--pick", type=int, nargs="*", default=[0, 1], help="a cached variant's members")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/soilco2_daily_variants"))
    ap.add_argument("--other", help="with blend: the cached variant averaged in (e.g. the all-site members)")
    ap.add_argument("--with", dest="with_", nargs="*", default=[], help="with mix: more variant:n parts")
    ap.add_argument("--draws", type=int, default=24, help="with mix: random draws of members")
    args = ap.parse_args()
    if args.what == "ports":
        ports(Path(args.target))
    elif args.what == "aggregate":
        aggregate(args.target, args.pick, args.cache)
    elif args.what == "mix":
        mix([args.target, *args.with_], args.cache, args.draws)
    elif args.what == "blend":
        if not args.other:
            ap.error("blend needs --other")
        blend(*_arrays(args.target, args.pick, args.cache), _arrays(args.other, args.pick, args.cache)[2])
    else:
        {"lastbias": lastbias, "anchor": anchor, "meanbias": meanbias, "inflate": inflate}[args.what](
            *_arrays(args.target, args.pick, args.cache)
        )


if __name__ == "__main__":
    main()
