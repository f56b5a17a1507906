"""Feature transforms for the daily dataset: arcsinh on the target and skewed drivers, then min–max
to [0, 1]; fitted on training cells only, saved as JSON, invertible.

What the fit sees (never validation or test days):
- the target: observed training days (``Split.train``);
- dynamic drivers: ``Split.fit_mask`` (in-span days of training sites up to the last training day);
- static attributes: the training sites.
Binary channels (``avail_*``, ``igbp_*``) pass through unchanged. A constant column gets range 1.
(The daily paper fitted its scalers on all data; we do not.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from soilco2.errors import UserError

FORMAT = "soilco2-feature-scaler"
BINARY_PREFIXES = ("avail_", "igbp_")


@dataclass
class VarScale:
    arcsinh: bool
    min: float
    max: float
    kind: str  # target | dynamic | static | binary
    scale: float = 1.0  # arcsinh(x / scale): log-like above ~scale, linear below

    @property
    def range(self) -> float:
        r = self.max - self.min
        return r if np.isfinite(r) and r > 0 else 1.0


@dataclass
class FeatureScaler:
    target: str = "flux_umol_m2_s"
    variables: dict[str, VarScale] = field(default_factory=dict)

    # --- fitting ---------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        ds: xr.Dataset,
        split=None,
        features: list[str] | None = None,
        arcsinh: list[str] | None = None,
        target_arcsinh: bool = True,
        target_scale: float = 1.0,
    ) -> FeatureScaler:
        """Fit on the training portion of ``ds``.

        ``split`` is a :class:`soilco2.daily.dataset.splits.Split` (or ``None`` = every cell, for tests);
        ``features`` default to the dataset's dynamic + static features; ``arcsinh`` (features)
        defaults to ``ds.attrs['skewed_features']``. The target is arcsinh(target / ``target_scale``)
        then min–max, or plain min–max with ``target_arcsinh=False``."""
        target = ds.attrs.get("target", "flux_umol_m2_s")
        dyn = list(_attr_list(ds, "dynamic_features"))
        stat = list(_attr_list(ds, "static_features"))
        features = dyn + stat if features is None else list(features)
        skewed = set(_attr_list(ds, "skewed_features") if arcsinh is None else arcsinh)
        shape = ds[target].shape
        if split is None:
            fit_mask = train = np.ones(shape, bool)
        else:
            fit_mask, train = np.asarray(split.fit_mask.values, bool), np.asarray(split.train.values, bool)
        if not train.any():
            raise UserError("no training day to fit the scalers on", field="split")
        train_sites = fit_mask.any(axis=1)
        out = cls(target=target)
        out.variables[target] = fit_var_scale(ds[target].values[train], target_arcsinh, "target", target_scale)
        for name in features:
            if name not in ds:
                raise UserError(f"feature '{name}' is not in the dataset", field="features")
            values = ds[name].values
            if name.startswith(BINARY_PREFIXES):
                out.variables[name] = VarScale(False, 0.0, 1.0, "binary")
            elif ds[name].dims == ("site",):
                out.variables[name] = fit_var_scale(values[train_sites], name in skewed, "static")
            else:
                out.variables[name] = fit_var_scale(values[fit_mask], name in skewed, "dynamic")
        return out

    # --- applying --------------------------------------------------------------------------
    def forward(self, name: str, values) -> np.ndarray:
        s = self.variables[name]
        x = np.asarray(values, float)
        if s.arcsinh:
            x = np.arcsinh(x / s.scale)
        return (x - s.min) / s.range

    def inverse(self, name: str, values) -> np.ndarray:
        s = self.variables[name]
        x = np.asarray(values, float) * s.range + s.min
        return np.sinh(x) * s.scale if s.arcsinh else x

    def inverse_target(self, values) -> np.ndarray:
        return self.inverse(self.target, values)

    def transform(self, ds: xr.Dataset) -> xr.Dataset:
        """A copy of ``ds`` with every fitted variable scaled (float32, NaN kept)."""
        out = ds.copy()
        for name, s in self.variables.items():
            if name not in ds:
                raise UserError(f"variable '{name}' of the fitted scaler is not in the dataset", field=name)
            da = ds[name]
            scaled = self.forward(name, da.values).astype("float32")
            how = ("arcsinh, then " if s.arcsinh else "") + "min-max on training data"
            out[name] = (
                da.dims,
                scaled,
                {"units": "1", "long_name": f"{da.attrs.get('long_name', name)} (scaled: {how})"},
            )
        return out

    # --- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": 1,
            "target": self.target,
            "variables": {
                k: {"arcsinh": v.arcsinh, "min": v.min, "max": v.max, "kind": v.kind}
                | ({"scale": v.scale} if v.scale != 1.0 else {})
                for k, v in self.variables.items()
            },
        }

    def to_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def from_dict(cls, data: dict, *, file=None) -> FeatureScaler:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise UserError(f"not a soilco2 scaler file (format != {FORMAT})", file=file, field="format")
        try:
            vars_ = {
                k: VarScale(
                    bool(v["arcsinh"]), float(v["min"]), float(v["max"]), str(v["kind"]), float(v.get("scale", 1.0))
                )
                for k, v in data["variables"].items()
            }
            return cls(target=str(data["target"]), variables=vars_)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise UserError(f"malformed scaler entry ({err})", file=file, field="variables") from None

    @classmethod
    def from_json(cls, path: str | Path) -> FeatureScaler:
        path = Path(path)
        if not path.is_file():
            raise UserError("scaler file not found", file=path)
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise UserError(f"not valid JSON ({err.msg})", file=path) from None
        return cls.from_dict(data, file=path)


def fit_var_scale(values: np.ndarray, arcsinh: bool, kind: str, scale: float = 1.0) -> VarScale:
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    if arcsinh:
        x = np.arcsinh(x / scale)
    if x.size == 0:
        return VarScale(arcsinh, 0.0, 1.0, kind, scale)
    return VarScale(arcsinh, float(x.min()), float(x.max()), kind, scale)


def _attr_list(ds: xr.Dataset, key: str) -> list[str]:
    v = ds.attrs.get(key, [])
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except json.JSONDecodeError:
            v = [v] if v else []
    return [str(x) for x in np.atleast_1d(v)] if len(np.atleast_1d(v)) else []
