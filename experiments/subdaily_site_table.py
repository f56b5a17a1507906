"""Markdown results table of an S2 run folder (the per-site tables of docs/subdaily.md).

    .venv/bin/python experiments/subdaily_site_table.py runs/subdaily_oyonarte_short

Prints the per-model table (test r / NSE at the headline past length, best Q10 by test r) and the
extrapolation test r / NSE per past length.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

TORCH = {
    "pastfuture_lstm": "past/future LSTM",
    "oneway_lstm": "one-way LSTM",
    "mlp_pastfuture": "MLP past+future",
    "mlp_past": "MLP past",
}
Q10 = ("q10", "q10_swc_power", "q10_swc_logistic", "lloyd_taylor")


def table(run: Path) -> str:
    s = json.loads((run / "summary.json").read_text())
    scen = [c for c in ("extrapolation", "interpolation") if c in s]
    rows = []
    for m, label in TORCH.items():
        if any(m in s[c] for c in scen):
            k = max((s[c][m].get("members") or 1) for c in scen if m in s[c])
            rows.append((label + (f" ({k}-seed mean)" if k > 1 else ""), [s[c].get(m) for c in scen]))
    for c in scen:  # best Q10-family model by test r, per scenario
        q = {m: v for m, v in s[c].items() if m in Q10}
        if q:
            best = max(q, key=lambda m: q[m]["r"])
            rows.append((f"best Q10 ({c[:6]}.: {best})", [s[x].get(best) if x == c else None for x in scen]))
    head = "| model | " + " | ".join(f"{c[:6]}. r | {c[:6]}. NSE" for c in scen) + " |"
    out = [head, "|---" * (1 + 2 * len(scen)) + "|"]
    for label, vals in rows:
        cells = [f"{v['r']:.3f} | {v['nse']:.3f}" if v else "– | –" for v in vals]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    n = {c: max(v["n"] for v in s[c].values()) for c in scen}
    sweep = pd.read_parquet(run / "sweep.parquet")
    out.append("")
    out.append(
        f"headline past (h, chosen on validation): {s['headline_past_hours']}; test n: {n}; "
        f"hold-out: {s.get('holdout')}; inputs: {s['inputs']}; warnings: {s.get('warnings')}; "
        f"past lengths {sorted(sweep.past_hours.dropna().unique().tolist())}; "
        f"total {s['total_seconds']:.0f} s"
    )
    return "\n".join(out)


def per_length(run: Path, scenario: str = "extrapolation") -> str:
    """Test r / NSE per past length for the torch models (rows) of one scenario."""
    sw = pd.read_parquet(run / "sweep.parquet")
    sw = sw[(sw.split == "test") & (sw.scenario == scenario) & sw.past_hours.notna()]
    if "members" in sw:  # single seeds only (the headline seed ensemble is in the model table)
        sw = sw[sw["members"].fillna(1) == 1]
    hours = sorted(sw.past_hours.unique())
    out = ["| past (h) | " + " | ".join(f"{h:g}" for h in hours) + " |", "|---" * (1 + len(hours)) + "|"]
    for m, label in TORCH.items():
        g = sw[sw.model == m].set_index("past_hours")
        if len(g):
            out.append(
                f"| {label} | " + " | ".join(f"{g.loc[h, 'r']:.3f} / {g.loc[h, 'nse']:.3f}" for h in hours) + " |"
            )
    return "\n".join(out)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(
            f"### {arg}\n\n{table(Path(arg))}\n\ntest r / NSE per past length, extrapolation:\n\n"
            f"{per_length(Path(arg))}\n"
        )
