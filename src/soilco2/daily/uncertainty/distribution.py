"""The LSTM's predictive distribution: split-conformal in log space around the ensemble's point
forecast, non-negative by construction.

A calibration ensemble (the run's recipe, trained without the last ``holdout_fraction`` of each
site's training days) predicts those held-out days; the log residual of its members' mean there,
``s = log max(y, f) - log max(ŷ, f)`` (``f``: a floor of ``floor_umol_m2_s``), is one conformity
score. A day's predictive distribution is ``max(ŷ, f)·exp(S)``, ``ŷ`` the run's members' mean and
``S`` drawn from the scores: the site's own scores weighted ``n / (n + k)`` against the pooled
scores of every site (``k = site_prior_days``; ``grouping: pooled`` uses the pooled scores alone,
``igbp`` the site's IGBP class instead of the site). The members enter through their mean: a
mixture of member-centred distributions counted their spread twice (each member's own residuals
already hold it; decision E24). A level known only up to a log-normal factor (a new site's) widens
``S`` by that normal. Every quantile is > 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)
PIT = "lstm_pit"
POOLED_NODES = 2000  # the pooled scores kept as this many quantiles
NORMAL_NODES = 15  # a level's normal uncertainty as this many equal-probability nodes


def quantile_name(level: float) -> str:
    return f"lstm_q{round(level * 100):02d}"


def ensemble_mean(members: np.ndarray) -> np.ndarray:
    """The point forecast of (M, n) member values: their mean, floored at 0."""
    return np.maximum(np.mean(members, axis=0), 0.0)


def log_residuals(obs: np.ndarray, forecast: np.ndarray, floor: float) -> np.ndarray:
    """Conformity scores of a point ``forecast`` against ``obs`` (both (n,))."""
    return np.log(np.maximum(obs, floor)) - np.log(np.maximum(forecast, floor))


@dataclass
class Calibration:
    """Conformity scores by group and pooled; :meth:`quantiles` gives predictive quantiles."""

    pooled: np.ndarray  # sorted scores (POOLED_NODES quantiles of every site's scores)
    by_group: dict[str, np.ndarray]  # sorted scores of each group (one a day)
    grouping: str
    prior_days: float
    floor: float

    @classmethod
    def fit(
        cls,
        table: pd.DataFrame,
        *,
        grouping: str = "site",
        prior_days: float = 60.0,
        floor: float = 0.05,
        groups: dict[str, str] | None = None,
    ) -> Calibration:
        """From the calibration table (``site``, ``obs``, ``member_<k>`` columns): ``groups`` maps
        a site to its group for ``grouping: igbp``."""
        cols = sorted((c for c in table if c.startswith("member_")), key=lambda c: int(c.split("_")[1]))
        ok = table["obs"].notna().to_numpy() & table[cols].notna().all(axis=1).to_numpy()
        t = table[ok]
        scores = log_residuals(t["obs"].to_numpy("f8"), ensemble_mean(t[cols].to_numpy("f8").T), floor)
        flat = np.sort(scores)
        if flat.size == 0:
            raise ValueError("no calibration day with an observation and a prediction")
        pooled = np.quantile(flat, (np.arange(POOLED_NODES) + 0.5) / POOLED_NODES) if flat.size > POOLED_NODES else flat
        by_group: dict[str, np.ndarray] = {}
        if grouping != "pooled":
            key = t["site"].astype(str).map(groups) if grouping == "igbp" and groups else t["site"].astype(str)
            for g, rows in pd.Series(np.arange(len(t))).groupby(key.to_numpy()):
                by_group[str(g)] = np.sort(scores[rows.to_numpy()])
        return cls(pooled, by_group, grouping, float(prior_days), float(floor))

    def group_weight(self, group: str | None) -> float:
        """Weight of a group's own scores against the pooled ones: n / (n + prior_days)."""
        own = self.by_group.get(group) if group is not None else None
        if own is None or self.grouping == "pooled":
            return 0.0
        n = own.size
        return n / (n + self.prior_days) if self.prior_days > 0 else 1.0

    def score_nodes(self, group: str | None = None, log_sd: float = 0.0, nodes: int = 100) -> np.ndarray:
        """``nodes`` equal-probability quantiles of the group's score distribution (its own scores
        mixed with the pooled ones, convolved with N(0, log_sd²))."""
        w = self.group_weight(group)
        values = [self.pooled]
        weights = [np.full(self.pooled.size, (1 - w) / self.pooled.size)]
        if w > 0:
            own = self.by_group[group]
            values.append(own)
            weights.append(np.full(own.size, w / own.size))
        v, p = np.concatenate(values), np.concatenate(weights)
        if log_sd > 0:
            from scipy.stats import norm

            z = norm.ppf((np.arange(NORMAL_NODES) + 0.5) / NORMAL_NODES) * log_sd
            v = (v[:, None] + z[None, :]).ravel()
            p = np.repeat(p / NORMAL_NODES, NORMAL_NODES)
        order = np.argsort(v, kind="stable")
        v, cum = v[order], np.cumsum(p[order])
        k = np.searchsorted(cum, (np.arange(nodes) + 0.5) / nodes * cum[-1], side="left")
        return v[np.minimum(k, v.size - 1)]

    def samples(
        self, members: np.ndarray, *, group: str | None = None, log_shift=0.0, log_sd: float = 0.0, nodes: int = 400
    ) -> np.ndarray:
        """(n, nodes) sorted equal-weight samples (µmol m-2 s-1) of each day's distribution around
        the mean of ``members`` (M, n) of one site; NaN rows where a member is NaN. ``log_shift``
        (scalar or (n,)) and ``log_sd``: a level factor exp(N(log_shift, log_sd²)) (a new site's)."""
        members = np.atleast_2d(np.asarray(members, dtype="f8"))
        nodes_s = self.score_nodes(group, log_sd, nodes)
        centre = np.log(np.maximum(ensemble_mean(members), self.floor)) + log_shift  # (n,)
        out = np.exp(centre[:, None] + nodes_s[None, :])
        out[~np.isfinite(members).all(0)] = np.nan
        return out

    def quantiles(self, members: np.ndarray, levels=LEVELS, **kw) -> np.ndarray:
        """(len(levels), n) quantiles of each day's distribution (keywords as :meth:`samples`)."""
        s = self.samples(members, **kw)
        return np.quantile(s, np.asarray(levels, dtype="f8"), axis=1)


def distribution_scores(obs: np.ndarray, samples: np.ndarray, q05, q25, q75, q95) -> dict:
    """CRPS (of the equal-weight ``samples`` (n, S), sorted), the 90 % interval score, and coverage
    and mean width of the 50 % and 90 % central intervals, on days with an observation."""
    import scoringrules as sr

    m = np.isfinite(obs) & np.isfinite(samples).all(1)
    if not m.any():
        nan = float("nan")
        return dict.fromkeys(("crps", "interval_score_90", "coverage_50", "coverage_90", "width_50", "width_90"), nan)
    y = obs[m]
    return {
        "crps": float(np.mean(sr.crps_ensemble(y, samples[m], sorted_ensemble=True))),
        "interval_score_90": float(np.mean(sr.interval_score(y, q05[m], q95[m], 0.1))),
        "coverage_50": float(np.mean((y >= q25[m]) & (y <= q75[m]))),
        "coverage_90": float(np.mean((y >= q05[m]) & (y <= q95[m]))),
        "width_50": float(np.mean(q75[m] - q25[m])),
        "width_90": float(np.mean(q95[m] - q05[m])),
    }


SCORE_UNITS = {
    "crps": "crps_umol_m2_s",
    "interval_score_90": "interval_score_90_umol_m2_s",
    "coverage_50": "coverage_50",
    "coverage_90": "coverage_90",
    "width_50": "width_50_umol_m2_s",
    "width_90": "width_90_umol_m2_s",
}


def predictive_outputs(
    cal: Calibration,
    fluxes: np.ndarray,
    sites: list[str],
    obs: np.ndarray,
    split: np.ndarray,
    splits: dict[str, tuple[int, ...]],
    *,
    groups: dict[str, str] | None = None,
    log_shift: np.ndarray | None = None,
    log_sd: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], pd.DataFrame, dict]:
    """Every site's predictive quantiles ``lstm_q05`` … ``lstm_q95`` (site, time) from the members'
    ``fluxes`` (member, site, time); per site and split the distribution scores (columns with
    units, see ``SCORE_UNITS``); and per split the scores of all sites' days pooled. ``groups``:
    a site's calibration group (default the site itself; unknown groups use the pooled scores);
    ``log_shift`` / ``log_sd`` (site,): a level factor per site (new sites)."""
    n_sites, n_time = fluxes.shape[1:]
    quant = {quantile_name(q): np.full((n_sites, n_time), np.nan) for q in LEVELS}
    quant[PIT] = np.full((n_sites, n_time), np.nan)
    rows, pooled = [], {name: [] for name in splits}
    for i, site in enumerate(sites):
        span = np.isfinite(fluxes[:, i]).all(0)
        if not span.any():
            continue
        group = (groups or {}).get(site, site) if cal.grouping != "pooled" else None
        s = cal.samples(
            fluxes[:, i, span],
            group=group,
            log_shift=0.0 if log_shift is None else float(log_shift[i]),
            log_sd=0.0 if log_sd is None else float(log_sd[i]),
        )
        q = np.quantile(s, LEVELS, axis=1)
        for k, level in enumerate(LEVELS):
            quant[quantile_name(level)][i, span] = q[k]
        y = obs[i, span]
        seen = np.isfinite(y)
        quant[PIT][i, np.flatnonzero(span)[seen]] = pit(s[seen], y[seen])
        for name, labels in splits.items():
            m = np.isin(split[i, span], labels) & np.isfinite(y)
            if not m.any():
                continue
            scores = distribution_scores(y[m], s[m], q[0][m], q[1][m], q[3][m], q[4][m])
            rows.append({"site": site, "split": name, **{SCORE_UNITS[k]: v for k, v in scores.items()}})
            pooled[name].append((y[m], s[m], q[:, m]))
    summary = {}
    for name, parts in pooled.items():
        if parts:
            y = np.concatenate([p[0] for p in parts])
            s = np.concatenate([p[1] for p in parts])
            q = np.concatenate([p[2] for p in parts], axis=1)
            summary[name] = {SCORE_UNITS[k]: v for k, v in distribution_scores(y, s, q[0], q[1], q[3], q[4]).items()}
            summary[name]["days"] = int(y.size)
    return quant, pd.DataFrame(rows), summary


def pit(samples: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """The probability integral transform: each observation's predictive CDF value (ties split)."""
    below = (samples < obs[:, None]).mean(1)
    return below + 0.5 * (samples == obs[:, None]).mean(1)


def central_coverage(pit_values: np.ndarray, nominal=np.arange(0.1, 0.91, 0.1)) -> pd.DataFrame:
    """Observed coverage of the central intervals of each nominal level, from PIT values."""
    v = pit_values[np.isfinite(pit_values)]
    rows = [{"nominal": float(c), "observed": float(np.mean(np.abs(v - 0.5) <= c / 2)) if v.size else np.nan}
            for c in nominal]  # fmt: skip
    return pd.DataFrame(rows)


PIT_ATTRS = {
    "long_name": "probability integral transform of the observation under the LSTM's predictive distribution "
    "(uniform on [0, 1] when the distribution is calibrated)",
    "units": "1",
}

_LONG_NAMES = {0.05: "5th", 0.25: "25th", 0.5: "50th (median)", 0.75: "75th", 0.95: "95th"}


def quantile_attrs(level: float) -> dict:
    """CF attributes of a predictive quantile variable."""
    from soilco2 import cf

    return {
        "long_name": f"{_LONG_NAMES[level]} percentile of the LSTM's predictive distribution of daily mean soil "
        "CO2 efflux (conformal, calibrated on held-out training days)",
        "units": "umol m-2 s-1",
        "standard_name": cf.CO2_FLUX,
        "cell_methods": "time: mean",
        "quantile": level,
    }
