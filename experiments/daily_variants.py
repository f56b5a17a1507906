"""Compare S1 LSTM variants on the **validation** days (the selection rule), test reported beside.

Each variant is configs/daily.yaml with dotted overrides; its members' flux predictions are saved
under --cache (outside the repo) so ensembles of any size can be scored afterwards.

    .venv/bin/python experiments/daily_variants.py base --members 0 1 2 3 --from-run runs/daily
    .venv/bin/python experiments/daily_variants.py cosine training.lr_schedule=cosine --members 0 1
    .venv/bin/python experiments/daily_variants.py --score base cosine     # ensembles of all cached members
    .venv/bin/python experiments/daily_variants.py --score base --pick 0 1 2 7 --inflate 1.1

Variants that differ only in ``training.finetune_*`` share their all-site members: each is trained
once and kept under <cache>/allsite/<hash of the rest of the config and of the package's
source>/member_<k>.pt, so a fine-tuning variant costs only its fine-tuning (~45 s a member
instead of ~225 s).

Validation score: median per-site NSE and KGE on the validation days (last 10 % of each site's
training days) and ``val_nse_star`` = 1 − mean over sites of MSE / variance of the site's training
target (the NSE* of hydroDL; less noisy than the median on short slices). Prints one JSON line per
ensemble size; appends them to <cache>/variants.jsonl.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import xarray as xr
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _override(cfg: dict, item: str) -> None:
    key, value = item.split("=", 1)
    *path, last = key.split(".")
    d = cfg
    for p in path:
        d = d.setdefault(p, {})
    d[last] = yaml.safe_load(value)


def _site_scores(pred: np.ndarray, obs: np.ndarray, split: np.ndarray, lab: int) -> dict[str, np.ndarray]:
    """Per-site NSE, KGE, r on the days labelled ``lab`` (NaN where fewer than 3), their number ``n``
    and NSE*'s per-site term: MSE / variance of the site's training target."""
    from soilco2.daily.arrays import TRAIN
    from soilco2.metrics import score

    rows, n = [], []
    for i in range(obs.shape[0]):
        m = (split[i] == lab) & np.isfinite(obs[i])
        n.append(int(m.sum()))
        if m.sum() < 3:
            rows.append({})
            continue
        tr = obs[i, (split[i] == TRAIN) & np.isfinite(obs[i])]
        rows.append(
            score(obs[i, m], pred[i, m], ("nse", "kge", "r"))
            | {"mse_ratio": np.mean((obs[i, m] - pred[i, m]) ** 2) / max(np.var(tr), 1e-6)}
        )
    out = {k: np.array([r.get(k, np.nan) for r in rows]) for k in ("nse", "kge", "r", "mse_ratio")}
    return out | {"n": np.array(n)}


def _scores(pred: np.ndarray, obs: np.ndarray, split: np.ndarray) -> dict:
    from soilco2.daily.arrays import TEST, VALIDATION

    out = {}
    for name, lab in (("val", VALIDATION), ("test", TEST)):
        s = _site_scores(pred, obs, split, lab)
        scored = s["n"] >= 3
        for k in ("nse", "kge", "r"):
            out[f"{name}_median_{k}"] = round(float(np.nanmedian(s[k][scored])), 4)
        out[f"{name}_nse_star"] = round(1 - float(np.mean(s["mse_ratio"][scored])), 4)
        if name == "test":
            good = (s["nse"] > 0.5) & (s["kge"] > 0.3)
            out["test_share_good"] = round(float(np.mean(good[scored])), 4)
    return out


def _paired(pred: np.ndarray, base: np.ndarray, obs: np.ndarray, split: np.ndarray) -> dict:
    """Site by site against ``base`` on the test label: mean difference of each metric clipped at
    −1 (so that a few collapsed sites do not dominate) and the share of sites where it is higher."""
    from soilco2.daily.arrays import TEST

    a, b = _site_scores(pred, obs, split, TEST), _site_scores(base, obs, split, TEST)
    out = {}
    for k in ("nse", "kge", "r"):
        d = np.clip(a[k], -1, None) - np.clip(b[k], -1, None)
        d = d[np.isfinite(d)]
        out[f"paired_{k}_mean_diff"] = round(float(d.mean()), 4)
        out[f"paired_{k}_share_better"] = round(float((d > 0).mean()), 4)
    return out


def predict_windowed(model, a, window: int, warmup: int) -> np.ndarray:
    """Scaled predictions where each block of ``window`` days sees only the ``warmup`` days before
    it (the context the LSTM had in training), instead of one pass over the whole span."""
    import torch

    S, T, F = a.x_dynamic.shape
    xpad = np.concatenate([np.zeros((S, warmup, F), np.float32), a.x_dynamic], axis=1)
    blocks = [(i, b) for i in range(S) for b in range(a.start[i], a.stop[i], window)]
    idx = np.array([b for _, b in blocks])[:, None] + np.arange(warmup + window)[None, :]
    idx = np.minimum(idx, T + warmup - 1)
    sites = np.array([i for i, _ in blocks])
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(xpad[sites[:, None], idx]), torch.from_numpy(a.x_static[sites])).numpy()
    out = np.full((S, T), np.nan, np.float32)
    for k, (i, b) in enumerate(blocks):
        e = min(b + window, a.stop[i])
        out[i, b:e] = pred[k, warmup : warmup + e - b]
    return out


def member_files(d: Path) -> list[Path]:
    """A cached variant's member predictions, by member number."""
    return sorted(d.glob("member_*.npy"), key=lambda f: int(f.stem.split("_")[1]))


def _allsite_file(cache: Path, cfg, inner: bool, member: int) -> Path:
    """Where the all-site member of ``cfg`` (fine-tuning keys aside) is kept; the key includes the
    package's source, so a code change never reuses members trained by older code."""
    import hashlib

    d = cfg.model_dump(mode="json")
    d["training"] = {k: v for k, v in d["training"].items() if not k.startswith("finetune_")}
    h = hashlib.sha1(json.dumps([d, inner], sort_keys=True).encode())
    for f in sorted((ROOT / "src" / "soilco2").rglob("*.py")):
        h.update(f.read_bytes())
    key = h.hexdigest()[:12]
    return cache / "allsite" / key / f"member_{member}.pt"


def _fit(a, cfg, seed: int, allsite: Path):
    """As the pipeline's ``fit_member`` (all-site training, then per-site fine-tuning), the
    all-site model read from ``allsite`` when an earlier variant left it there."""
    import torch

    from soilco2.daily.members import finetune_member, train_member
    from soilco2.daily.model import new_model

    if allsite.exists():
        model = new_model(a, cfg.model)
        model.load_state_dict(torch.load(allsite, weights_only=True))
        model.eval()
        info = {"allsite": "cached"}
    else:
        model, res = train_member(a, cfg, seed, show_progress=False)
        allsite.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), allsite)
        info = {"best_epoch": res.best_epoch, "epochs_run": len(res.history), "best_val_loss": res.best_val_loss}
    return finetune_member(model, a, cfg, seed), info


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name", nargs="?")
    ap.add_argument("overrides", nargs="*")
    ap.add_argument("--members", type=int, nargs="*", default=[0])
    ap.add_argument("--from-run", type=Path, default=None, help="reuse this run's checkpoints (no training)")
    ap.add_argument("--score", nargs="*", default=None, help="score cached variants")
    ap.add_argument(
        "--context",
        choices=["full", "window"],
        default="full",
        help="window: predict each window_days block from warmup_days of context only",
    )
    ap.add_argument("--pick", type=int, nargs="*", default=None, help="with --score: only these members")
    ap.add_argument(
        "--inflate",
        type=float,
        default=1.0,
        help="with --score: scale the ensemble's anomaly around its mean training-day prediction",
    )
    ap.add_argument(
        "--against",
        default=None,
        help="with --score: also compare site by site with this cached variant (same members)",
    )
    ap.add_argument("--cache", type=Path, default=Path("/tmp/soilco2_daily_variants"))
    ap.add_argument(
        "--inner",
        action="store_true",
        help="nested check: drop the test days, split the rest (--inner-fraction) so that 'test' below "
        "is the end of the default split's training days",
    )
    ap.add_argument(
        "--inner-fraction",
        type=float,
        default=0.9,
        help="with --inner: the inner train fraction (0.9: the old validation slice; 0.8: an inner "
        "test as long, relative to the record, as the real one)",
    )
    args = ap.parse_args()

    from soilco2.daily.arrays import TARGET
    from soilco2.daily.config import DailyConfig
    from soilco2.daily.run import load_members, prepare

    if args.score is not None:
        for name in args.score:
            d = args.cache / name
            obs, split = np.load(d / "obs.npy"), np.load(d / "split.npy")
            files = member_files(d)
            if args.pick is not None:
                files = [d / f"member_{k}.npy" for k in args.pick]
            preds = [np.load(f) for f in files]
            for k in sorted({1, len(preds)} | set(range(2, len(preds) + 1, 2))):
                p = np.mean(preds[:k], 0)
                if args.inflate != 1.0:
                    level = np.array([np.nanmean(p[i, split[i] == 0]) for i in range(p.shape[0])])[:, None]
                    p = level + args.inflate * (p - level)
                res = {
                    "variant": name,
                    "members": k,
                    "files": [f.stem for f in files[:k]],
                    "inflate": args.inflate,
                    **_scores(p, obs, split),
                }
                if args.against:
                    base = np.mean([np.load(args.cache / args.against / f"{f.stem}.npy") for f in files[:k]], 0)
                    res |= _paired(p, base, obs, split)
                print(json.dumps(res))
        return

    raw = yaml.safe_load((ROOT / "configs" / "daily.yaml").read_text())
    for item in args.overrides:
        _override(raw, item)
    raw["training"]["ensemble"] = 1
    cfg = DailyConfig.model_validate(raw)
    ds, a, scaler = prepare(cfg)
    if args.inner:  # the test days leave the data; the validation slice becomes the test
        from soilco2.daily.arrays import TEST

        ds[TARGET] = ds[TARGET].where(xr.DataArray(a.split != TEST, dims=("site", "time")))
        inner_split = raw.get("split", {}) | {"train_fraction": args.inner_fraction}
        cfg = DailyConfig.model_validate(raw | {"split": inner_split})
        ds, a, scaler = prepare(cfg, ds=ds)
    obs = ds[TARGET].transpose("site", "time").values
    d = args.cache / args.name
    d.mkdir(parents=True, exist_ok=True)
    np.save(d / "obs.npy", obs)
    np.save(d / "split.npy", a.split)
    (d / "overrides.json").write_text(json.dumps(args.overrides))
    loaded = load_members(args.from_run, cfg, a) if args.from_run else None
    for k in args.members:
        t0 = time.perf_counter()
        if loaded is not None:
            model, info = loaded[k], {}
        else:
            model, info = _fit(a, cfg, cfg.training.seed + k, _allsite_file(args.cache, cfg, args.inner, k))
        if args.context == "window":  # the all-site weights (no per-site fine-tuning)
            scaled = predict_windowed(model.model, a, cfg.training.window_days, cfg.training.warmup_days)
        else:
            scaled = model.predict(a)
        pred = a.to_flux(scaled, scaler)
        np.save(d / f"member_{k}.npy", pred)
        line = {
            "variant": args.name,
            "member": k,
            "seconds": round(time.perf_counter() - t0, 1),
            **info,
            **_scores(pred, obs, a.split),
            "overrides": args.overrides,
        }
        print(json.dumps(line), flush=True)
        with open(args.cache / "variants.jsonl", "a") as f:
            f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
