"""ERA5 / ERA5-Land daily drivers at points from the Open-Meteo historical-weather archive.

``https://archive-api.open-meteo.com/v1/archive`` serves ERA5 and ERA5-Land (no key needed;
Open-Meteo data are CC BY 4.0, cite Hersbach et al. 2020 / Muñoz-Sabater et al. 2021 and
Open-Meteo). We request *hourly* values in UTC one calendar year at a time (padded by a day),
cache each raw JSON response on disk (``cache_dir()/era5``), and aggregate to days of the site's
local standard time (``utc_offset_h``), so days line up with COSORE's daily table. A day needs
all 24 hours, else it is NaN.

Off by default in the daily dataset (``data.providers.era5``); nothing here runs offline unless
the responses are already cached. Tests replace :func:`http_get`.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from soilco2.errors import UserError
from soilco2.paths import cache_dir

ARCHIVE_URL = "https://archive-api.open-meteo.com/v1/archive"
MODELS = ("era5_land", "era5", "best_match")


@dataclass(frozen=True)
class ERA5Var:
    name: str  # dataset variable
    hourly: str  # Open-Meteo hourly variable
    how: str  # daily aggregation: mean | sum | min | max
    units: str
    long_name: str
    skewed: bool = False


ERA5_VARS = [
    ERA5Var("era5_air_temp_c", "temperature_2m", "mean", "degC", "ERA5 2 m air temperature, daily mean"),
    ERA5Var("era5_air_temp_c_min", "temperature_2m", "min", "degC", "ERA5 2 m air temperature, daily minimum"),
    ERA5Var("era5_air_temp_c_max", "temperature_2m", "max", "degC", "ERA5 2 m air temperature, daily maximum"),
    ERA5Var("era5_precip_mm", "precipitation", "sum", "mm d-1", "ERA5 precipitation, daily total", True),
    ERA5Var("era5_sw_w_m2", "shortwave_radiation", "mean", "W m-2", "ERA5 surface shortwave radiation, daily mean"),
    ERA5Var("era5_rh_pct", "relative_humidity_2m", "mean", "%", "ERA5 2 m relative humidity, daily mean"),
    ERA5Var(
        "era5_soil_temp_c", "soil_temperature_0_to_7cm", "mean", "degC", "ERA5 soil temperature 0-7 cm, daily mean"
    ),
    ERA5Var(
        "era5_swc_m3_m3", "soil_moisture_0_to_7cm", "mean", "m3 m-3", "ERA5 volumetric soil water 0-7 cm, daily mean"
    ),
]


def http_get(url: str, timeout: float = 60.0) -> bytes:
    """GET ``url`` and return the body (the one network call; tests monkeypatch it)."""
    req = urllib.request.Request(url, headers={"User-Agent": "soilco2 (scientific research)"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (fixed https host)
        return resp.read()


class ERA5Client:
    """Cached client of the Open-Meteo archive for daily ERA5(-Land) drivers at points."""

    def __init__(
        self,
        model: str = "era5_land",
        cache: str | Path | None = None,
        *,
        url: str = ARCHIVE_URL,
        retries: int = 3,
        timeout: float = 60.0,
    ):
        if model not in MODELS:
            raise UserError(f"unknown ERA5 model {model!r} (one of {', '.join(MODELS)})", field="data.era5_model")
        self.model = model
        self.url = url
        self.retries = retries
        self.timeout = timeout
        self.cache = Path(cache) if cache is not None else cache_dir() / "era5"
        self.cache.mkdir(parents=True, exist_ok=True)
        self.requests = 0  # network requests made (cache misses)

    # --- one request ---------------------------------------------------------------------------
    def request_url(self, lat: float, lon: float, start: str, end: str) -> str:
        hourly = sorted({v.hourly for v in ERA5_VARS})
        params = {
            "latitude": f"{lat:.4f}",
            "longitude": f"{lon:.4f}",
            "start_date": start,
            "end_date": end,
            "hourly": ",".join(hourly),
            "timezone": "GMT",
            "models": self.model,
        }
        return f"{self.url}?{urllib.parse.urlencode(params)}"

    def _cache_path(self, url: str) -> Path:
        return self.cache / f"openmeteo_{hashlib.sha1(url.encode()).hexdigest()[:20]}.json"

    def fetch(self, lat: float, lon: float, start: str, end: str) -> dict:
        """The parsed JSON response for one request, from the cache when present."""
        url = self.request_url(lat, lon, start, end)
        path = self._cache_path(url)
        if path.is_file():
            return json.loads(path.read_text())
        body = self._get(url)
        try:
            data = json.loads(body)
        except json.JSONDecodeError:
            raise UserError("ERA5 service returned something that is not JSON", file=url) from None
        if not isinstance(data, dict) or data.get("error"):
            reason = data.get("reason", "unknown reason") if isinstance(data, dict) else "unexpected response"
            raise UserError(f"ERA5 service refused the request: {reason}", file=url)
        if "hourly" not in data or "time" not in data["hourly"]:
            raise UserError("ERA5 response has no hourly values", file=url, field="hourly")
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)
        return data

    def _get(self, url: str) -> bytes:
        last = None
        for attempt in range(self.retries):
            try:
                self.requests += 1
                return http_get(url, self.timeout)
            except urllib.error.HTTPError as err:
                if err.code not in (429, 500, 502, 503, 504):
                    try:
                        reason = json.loads(err.read()).get("reason", err.reason)
                    except Exception:  # body not JSON
                        reason = err.reason
                    raise UserError(f"ERA5 service error {err.code}: {reason}", file=url) from None
                last = f"HTTP {err.code}"
            except (urllib.error.URLError, TimeoutError, OSError) as err:
                last = str(getattr(err, "reason", err))
            time.sleep(min(2**attempt, 8))
        raise UserError(
            f"could not reach the ERA5 service ({last}); it is optional: set "
            "data.providers.era5: false to build offline",
            file=url,
        )

    # --- daily values ----------------------------------------------------------------------------
    def hourly(self, lat: float, lon: float, start, end) -> pd.DataFrame:
        """Hourly UTC values covering [start − 1 day, end + 1 day], one cached request per year."""
        start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
        lo, hi = start - pd.Timedelta(days=1), end + pd.Timedelta(days=1)
        frames = []
        for year in range(lo.year, hi.year + 1):
            a, b = max(lo, pd.Timestamp(year, 1, 1)), min(hi, pd.Timestamp(year, 12, 31))
            data = self.fetch(lat, lon, a.strftime("%Y-%m-%d"), b.strftime("%Y-%m-%d"))
            h = data["hourly"]
            frame = pd.DataFrame(
                {k: np.asarray(v, dtype=float) for k, v in h.items() if k != "time"}, index=pd.to_datetime(h["time"])
            )
            frames.append(frame)
        out = pd.concat(frames).sort_index()
        return out[~out.index.duplicated(keep="first")]

    def daily(self, lat: float, lon: float, start, end, utc_offset_h: float | None = None) -> pd.DataFrame:
        """Daily values (index = local-standard-time day) for :data:`ERA5_VARS` over [start, end]."""
        offset = round(lon / 15.0) if utc_offset_h is None or not np.isfinite(utc_offset_h) else utc_offset_h
        hourly = self.hourly(lat, lon, start, end)
        hourly.index = hourly.index + pd.Timedelta(hours=float(offset))
        day = hourly.index.floor("D")
        groups = hourly.groupby(day)
        out = {}
        for v in ERA5_VARS:
            if v.hourly not in hourly.columns:
                continue
            agg = getattr(groups[v.hourly], v.how)()
            complete = groups[v.hourly].count() == 24
            out[v.name] = agg.where(complete)
        frame = pd.DataFrame(out)
        frame.index.name = "date"
        return frame.loc[pd.Timestamp(start).normalize() : pd.Timestamp(end).normalize()]
