"""Vegetation-type bins of S3: the MODIS land cover read from its GeoTIFF, and the 80/20 sampler
whose training sets follow each bin's share of vegetated area."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from soilco2.errors import UserError
from soilco2.global_.bins import OTHER, bin_table, record_bins, selection_probabilities, split_run


def test_sampler_follows_area_shares_on_a_synthetic_table():
    bins = np.array(["ENF"] * 400 + ["GRA"] * 300 + ["OSH"] * 300, dtype=object)
    area = pd.Series({"ENF": 0.6, "GRA": 0.3, "OSH": 0.1})
    table = bin_table(bins, area)
    p = selection_probabilities(bins, table)
    rng = np.random.default_rng(0)
    shares = []
    for _ in range(300):  # a small training set, so drawing without replacement hardly bends the shares
        train, test = split_run(p, rng, train_fraction=0.1)
        assert len(train) == 100 and len(test) == 900 and not set(train) & set(test)
        shares.append(pd.Series(bins[train]).value_counts(normalize=True).reindex(area.index, fill_value=0))
    mean = pd.concat(shares, axis=1).mean(axis=1)
    np.testing.assert_allclose(mean.to_numpy(), area.to_numpy(), atol=0.02)


def test_equal_sampling_follows_record_shares():
    bins = np.array(["ENF"] * 700 + ["OSH"] * 300, dtype=object)
    table = bin_table(bins, pd.Series({"ENF": 0.2, "OSH": 0.8}))
    p = selection_probabilities(bins, table, "equal")
    rng = np.random.default_rng(1)
    share = np.mean([np.mean(bins[split_run(p, rng, 0.8)[0]] == "OSH") for _ in range(200)])
    assert share == pytest.approx(0.3, abs=0.01)


def test_a_scarce_bin_stays_in_training():
    """Open shrubland: much area, few records: its records are held out far less often."""
    bins = np.array(["OSH"] * 10 + ["DBF"] * 990, dtype=object)
    table = bin_table(bins, pd.Series({"OSH": 0.5, "DBF": 0.5}))
    p = selection_probabilities(bins, table)
    rng = np.random.default_rng(2)
    held_out = np.mean([np.mean(split_run(p, rng)[1] < 10) for _ in range(100)])  # share of test that is OSH
    assert held_out < 0.001


def test_bins_and_table():
    bins = record_bins(np.array(["ENF", "BSV", "URB", "GRA"], dtype=object))
    assert list(bins) == ["ENF", OTHER, OTHER, "GRA"]
    t = bin_table(bins, pd.Series({"ENF": 0.7, "GRA": 0.3}))
    assert t.loc[OTHER, "area_share"] == 0 and t.loc[OTHER, "n_records"] == 2
    assert t["record_share"].sum() == pytest.approx(1.0) and t.loc["ENF", "weight_per_record"] == pytest.approx(0.7)


# ---------------------------------------------------------------- the land-cover file
def test_landcover_fractions_and_dominant_class():
    pytest.importorskip("tifffile")
    from soilco2.sources.landcover import cell_landcover, igbp_fractions, landcover_file

    try:
        landcover_file()
    except UserError as err:
        pytest.fail(f"the land-cover package is part of the install (make install): {err}")
    f = igbp_fractions()
    assert f.shape == (17, 360, 720)
    np.testing.assert_allclose(f.sum(axis=0), 1.0, atol=1e-5)
    lc = cell_landcover(np.array([25.25, -3.25, 48.75]), np.array([10.25, -60.25, 2.25]), f)
    assert list(lc["igbp"]) == ["BSV", "EBF", "CRO"]  # Sahara, Amazon, Paris basin
    assert lc["vegetated_fraction"][1] > 0.5  # the Amazon at Manaus: forest and river


def test_landcover_bad_files(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    from soilco2.sources.landcover import igbp_fractions

    with pytest.raises(UserError, match="landcover_file"):
        igbp_fractions(tmp_path / "missing.tif")
    small = tmp_path / "small.tif"
    tifffile.imwrite(small, np.zeros((10, 20), np.uint8))
    with pytest.raises(UserError, match="0.05"):
        igbp_fractions(small)
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"not a tiff at all")
    with pytest.raises(UserError, match="cannot read GeoTIFF"):
        igbp_fractions(junk)
