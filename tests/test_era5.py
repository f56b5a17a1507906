"""The ERA5 (Open-Meteo archive) client, offline: the tests record small responses themselves
and replace the HTTP layer."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse

import numpy as np
import pandas as pd
import pytest

from soilco2.errors import UserError
from soilco2.sources import era5


def recorded_response(url: str) -> bytes:
    """What the archive API returns for an hourly request (values follow a known law)."""
    q = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    hours = pd.date_range(q["start_date"][0], pd.Timestamp(q["end_date"][0]) + pd.Timedelta(hours=23), freq="h")
    hod = hours.hour.to_numpy()
    doy = hours.day_of_year.to_numpy()
    hourly = {
        "time": [t.strftime("%Y-%m-%dT%H:%M") for t in hours],
        "temperature_2m": (doy + hod / 100.0).tolist(),  # daily mean = doy + 0.115 (UTC days)
        "precipitation": np.where(hod == 12, 2.0, 0.0).tolist(),
        "relative_humidity_2m": [70.0] * len(hours),
        "shortwave_radiation": np.where((hod >= 6) & (hod < 18), 400.0, 0.0).tolist(),
        "soil_temperature_0_to_7cm": [8.0] * len(hours),
        "soil_moisture_0_to_7cm": [0.3] * len(hours),
    }
    hourly["temperature_2m"][5] = None  # a missing hour: that (UTC) day becomes incomplete
    body = {
        "latitude": float(q["latitude"][0]),
        "longitude": float(q["longitude"][0]),
        "elevation": 100.0,
        "hourly_units": {"temperature_2m": "°C"},
        "hourly": hourly,
    }
    return json.dumps(body).encode()


@pytest.fixture
def calls(monkeypatch):
    seen = []

    def fake_get(url, timeout=60.0):
        seen.append(url)
        return recorded_response(url)

    monkeypatch.setattr(era5, "http_get", fake_get)
    return seen


def test_daily_values_caching_and_request(calls, tmp_path):
    client = era5.ERA5Client(cache=tmp_path)
    d = client.daily(45.0, 0.0, "2019-12-30", "2020-01-03", utc_offset_h=0)
    assert list(d.index) == list(pd.date_range("2019-12-30", "2020-01-03"))
    # one request per calendar year touched (padded by a day): 2019 and 2020
    assert len(calls) == 2
    q = urllib.parse.parse_qs(urllib.parse.urlparse(calls[0]).query)
    assert q["models"] == ["era5_land"] and q["timezone"] == ["GMT"]
    assert {"temperature_2m", "soil_moisture_0_to_7cm"} <= set(q["hourly"][0].split(","))
    assert calls[0].startswith(era5.ARCHIVE_URL)
    np.testing.assert_allclose(d.loc["2020-01-02", "era5_air_temp_c"], 2 + 0.115)
    assert d.loc["2020-01-02", "era5_air_temp_c_max"] == pytest.approx(2.23)
    assert d.loc["2020-01-02", "era5_precip_mm"] == 2.0
    assert d.loc["2020-01-02", "era5_sw_w_m2"] == 200.0
    assert d.loc["2020-01-02", "era5_swc_m3_m3"] == pytest.approx(0.3)
    # the padded first day of each chunk lost hour 5: 2019-12-29 (outside range) and 2020-01-01
    assert np.isnan(d.loc["2020-01-01", "era5_air_temp_c"])
    # second call: all from the disk cache
    again = era5.ERA5Client(cache=tmp_path).daily(45.0, 0.0, "2019-12-30", "2020-01-03", utc_offset_h=0)
    assert len(calls) == 2
    pd.testing.assert_frame_equal(d, again)


def test_local_standard_time_shift(calls, tmp_path):
    d = era5.ERA5Client(cache=tmp_path).daily(40.0, -105.0, "2020-03-02", "2020-03-03", utc_offset_h=-7)
    # local day 2020-03-02 = UTC 07:00 on the 2nd .. 06:00 on the 3rd
    expected = np.mean([62 + h / 100 for h in range(7, 24)] + [63 + h / 100 for h in range(0, 7)])
    assert d.loc["2020-03-02", "era5_air_temp_c"] == pytest.approx(expected)


def test_service_errors_are_user_errors(monkeypatch, tmp_path):
    monkeypatch.setattr(
        era5, "http_get", lambda url, timeout=60.0: b'{"error": true, "reason": "Latitude must be in range"}'
    )
    with pytest.raises(UserError, match="Latitude must be in range"):
        era5.ERA5Client(cache=tmp_path).daily(95.0, 0.0, "2020-01-02", "2020-01-03")

    def offline(url, timeout=60.0):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(era5, "http_get", offline)
    monkeypatch.setattr(era5.time, "sleep", lambda s: None)
    with pytest.raises(UserError, match="could not reach the ERA5 service.*era5: false"):
        era5.ERA5Client(cache=tmp_path, retries=2).daily(10.0, 0.0, "2020-01-02", "2020-01-03")
    with pytest.raises(UserError, match="unknown ERA5 model"):
        era5.ERA5Client(model="era7", cache=tmp_path)


def test_provider_in_the_dataset(calls, tmp_path):
    from soilco2.daily.dataset.build import DailyDataConfig, assemble_daily_dataset
    from synth_daily_inputs import monthly_at, site_attributes, synthetic

    table, meta = synthetic()
    cfg = DailyDataConfig(providers={"era5": True}, sites_include=["A"], warmup_days=5)
    ds = assemble_daily_dataset(
        cfg,
        table,
        meta,
        monthly_at=monthly_at,
        site_attributes=site_attributes,
        era5_client=era5.ERA5Client(cache=tmp_path),
    )
    assert "era5_soil_temp_c" in ds.attrs["dynamic_features"] and "era5_precip_mm" in ds.attrs["skewed_features"]
    span = ds["in_span"].values.astype(bool)
    assert np.isfinite(ds["era5_soil_temp_c"].values[span]).all()  # the one incomplete day interpolated
    assert ds["era5_soil_temp_c"].attrs["units"] == "degC"
