"""Global grids: scaling against known climates, cell-centre geometry, nearest-land fallback,
SOC GeoTIFF georeferencing checked against a direct read, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from soilco2.errors import UserError
from soilco2.sources import grids as g

MANAUS = (-3.1, -60.0)
SAHARA = (23.0, 12.0)
FAIRBANKS = (64.8, -147.7)
MID_ATLANTIC = (0.0, -30.0)


def test_biome4_scaled_to_known_climates(data_root):
    lat, lon = zip(MANAUS, SAHARA, FAIRBANKS)
    att = g.site_attributes(lat, lon, data_root)
    manaus, sahara, fairbanks = att.to_dict("records")
    assert 25 < manaus["mat_c"] < 29 and manaus["map_mm"] > 1800  # humid tropics
    assert sahara["mat_c"] > 20 and sahara["map_mm"] < 50  # hot desert
    assert -8 < fairbanks["mat_c"] < 0 and fairbanks["tmin_c"] < -35  # boreal interior
    assert sahara["sun_pct_mean"] > manaus["sun_pct_mean"]
    assert att["soc_mg_ha"].between(5, 400).all() and att["whc_mm"].gt(0).all()


def test_biome4_geometry_and_cf_attrs(data_root):
    ds = g.biome4_climatology(data_root)
    assert ds.sizes == {"month": 12, "lat": 360, "lon": 720}
    assert ds["lat"].values[[0, -1]].tolist() == [-89.75, 89.75]
    assert ds["lon"].values[[0, -1]].tolist() == [-179.75, 179.75]
    for name, var in ds.data_vars.items():
        assert var.attrs.get("units") and var.attrs.get("long_name"), name
    sun = ds["sun_pct"].values
    assert np.nanmin(sun) >= 0 and np.nanmax(sun) <= 100
    temp = ds["temp_c"].values
    assert -60 < np.nanmin(temp) and np.nanmax(temp) < 45


def test_climatology_at_long_format_and_fallback(data_root):
    # Cape Town waterfront: its 0.5-degree cell is ocean in BIOME4, land is close by
    clim = g.climatology_at([MANAUS[0], -33.9, MID_ATLANTIC[0]], [MANAUS[1], 18.4, MID_ATLANTIC[1]], data_root)
    assert len(clim) == 36 and clim.groupby("point")["month"].apply(list).map(lambda m: m == list(range(1, 13))).all()
    pt = clim.drop_duplicates("point").set_index("point")
    assert not pt.loc[0, "fallback"] and pt.loc[0, "distance_km"] < 40
    assert pt.loc[2, "fallback"] and np.isnan(pt.loc[2, "distance_km"])
    assert clim.loc[clim.point == 2, "temp_c"].isna().all()  # open ocean: no land in range
    assert clim.loc[clim.point == 0, "temp_c"].between(25, 29).all()


def test_coastal_point_uses_nearest_land_cell(data_root):
    ds = g.biome4_climatology(data_root)
    valid = np.isfinite(ds["temp_c"].isel(month=0).values) & np.isfinite(ds["prec_mm_month"].isel(month=0).values)
    # a sea cell bordering land (east neighbour is land), probed at its centre
    i, j = next((i, j) for i, j in zip(*np.nonzero(~valid[:, :-1] & valid[:, 1:])) if 100 < i < 300)
    lat, lon = float(ds["lat"][i]), float(ds["lon"][j])
    clim = g.climatology_at(lat, lon, data_root).iloc[0]
    assert clim["fallback"] and 0 < clim["distance_km"] <= 60
    assert np.isfinite(clim["temp_c"])
    far = g.climatology_at(lat, lon, data_root, max_distance_km=1.0).iloc[0]
    assert np.isnan(far["temp_c"])


def test_soc_matches_direct_geotiff_read(data_root):
    import tifffile

    raw = tifffile.imread(data_root / "grids" / g.SOC_FILE)
    rng = np.random.default_rng(0)
    lat, lon = rng.uniform(-55, 75, 3000), rng.uniform(-180, 180, 3000)
    expect = raw[((90 - lat) * 12).astype(int), ((lon + 180) * 12).astype(int)].astype(float)
    expect[expect == -32767] = np.nan
    got = g.soc_lookup(lat, lon, data_root, max_distance_km=0.001)
    assert np.array_equal(np.isnan(expect), got["fallback"].to_numpy())
    ok = ~np.isnan(expect)
    assert ok.sum() > 500 and np.array_equal(expect[ok], got["soc_mg_ha"].to_numpy()[ok])
    assert np.array_equal(g.soc_at(lat[ok][:5], lon[ok][:5], data_root), expect[ok][:5])


def test_land_fraction_orientation(data_root):
    lf = g.land_fraction(data_root)
    assert lf.shape == (360, 720) and float(lf.min()) == 0 and float(lf.max()) == 1
    assert lf.attrs["units"] == "1"
    assert float(lf.sel(lat=50.25, lon=10.25)) == 1.0  # Germany
    assert float(lf.sel(lat=0.25, lon=-150.25)) == 0.0  # Pacific
    assert g.land_fraction_at([-25.0, -25.0], [135.0, -135.0], data_root).tolist() == [1.0, 0.0]  # Australia / Pacific


def test_nearest_valid_known_answer():
    lat_c = np.array([-1.0, 0.0, 1.0])
    lon_c = np.array([-1.0, 0.0, 1.0])
    valid = np.zeros((3, 3), bool)
    valid[2, 2] = True  # only the north-east cell has data
    i, j, d, fb = g.nearest_valid(valid, lat_c, lon_c, np.array([0.1]), np.array([0.0]), 500.0)
    assert (i[0], j[0], bool(fb[0])) == (2, 2, True)
    assert d[0] == pytest.approx(g.haversine_km(0.1, 0.0, 1.0, 1.0)[()], rel=1e-9)
    assert g.haversine_km(0.0, 0.0, 0.0, 1.0) == pytest.approx(111.19, abs=0.01)


@pytest.mark.parametrize(("lat", "lon", "field"), [(95.0, 0.0, "lat"), (10.0, 200.0, "lon"), (np.nan, 0.0, "lat")])
def test_out_of_range_coordinates(lat, lon, field, data_root):
    with pytest.raises(UserError) as err:
        g.climatology_at(lat, lon, data_root)
    assert err.value.field == field
    with pytest.raises(UserError):
        g.soc_at(lat, lon, data_root)


def test_missing_and_corrupt_grid_files(tmp_path):
    (tmp_path / "grids").mkdir()
    with pytest.raises(UserError, match="grid file not found") as err:
        g.biome4_climatology(tmp_path)
    assert g.BIOME4_FILE in str(err.value)
    (tmp_path / "grids" / g.LAND_FRACTION_FILE).write_bytes(b"not a netcdf file")
    with pytest.raises(UserError, match="cannot read NetCDF"):
        g.land_fraction(tmp_path)


def test_missing_variable_named(tmp_path):
    import xarray as xr

    grids = tmp_path / "grids"
    grids.mkdir()
    xr.Dataset({"other": (("lat", "lon"), np.zeros((2, 2)))}, coords={"lat": [0, 1], "lon": [0, 1]}).to_netcdf(
        grids / g.LAND_FRACTION_FILE
    )
    with pytest.raises(UserError) as err:
        g.land_fraction(tmp_path)
    assert err.value.field == "data" and g.LAND_FRACTION_FILE in str(err.value)
