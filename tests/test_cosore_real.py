"""COSORE reader on the real shared data: counts, ports, local time, accounting, cache, flat layout."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from cosore_copy import flat_copy
from soilco2.prep.cosore_records import daily_table, load_records
from soilco2.prep.qa import DROP_REASONS
from soilco2.sources.cosore import IGBP_CODES, list_datasets, parse_ports

pytestmark = pytest.mark.realdata


def test_list_datasets_counts_and_metadata(cosore_root):
    meta = list_datasets(cosore_root)
    assert len(meta) == 84
    assert int(meta["has_data"].sum()) == 72
    assert (meta["problem"] == "").all(), meta.loc[meta["problem"] != "", "problem"].tolist()
    assert meta["igbp"].isin(list(IGBP_CODES)).all()
    assert meta["lat"].between(-90, 90).all() and meta["lon"].between(-180, 180).all()
    wkg = meta.set_index("dataset").loc["d20190617_SCOTT_WKG"]
    assert wkg["igbp"] == "GRA" and wkg["utc_offset_h"] == -7 and wkg["site_name"].startswith("Walnut Gulch")


def test_every_ports_file_parses(cosore_root):
    for path in sorted((cosore_root / "datasets").glob("*/PORTS.txt")):
        ports = parse_ports(path)
        assert len(ports) >= 1, path
        assert ports["CSR_MSMT_VAR"].isin(["Rs", "Rh", "Reco", "NEE"]).all(), (path, ports["CSR_MSMT_VAR"].tolist())
        assert (ports["CSR_PORT"] >= 0).all()
    # quoted species with commas stay one field; trailing tabs do not add columns
    mauritz = parse_ports(cosore_root / "datasets/d20190517_MAURITZ/PORTS.txt")
    assert mauritz.loc[0, "CSR_SPECIES"].startswith("Artemisia californica, Eriogonum")
    assert mauritz.loc[0, "CSR_TREATMENT"] == "Root exclusion" and mauritz.loc[1, "CSR_TREATMENT"] == "None"


def test_port_selection_and_accounting_wkg(cosore_root):
    rs, acc = load_records("d20190617_SCOTT_WKG", cosore_root)
    assert set(rs["port"]) == {1, 2, 3, 4}  # Rs, no treatment
    assert acc.closes and acc.kept == len(rs) and acc.raw == 98080
    assert not rs.duplicated(["port", "time"]).any()
    assert rs["flux_umol_m2_s"].between(-10, 100).all()
    rh, _ = load_records("d20190617_SCOTT_WKG", cosore_root, ports="rh")
    assert set(rh["port"]) == {5, 6, 7}
    every, acc_all = load_records("d20190617_SCOTT_WKG", cosore_root, ports="all")
    assert set(every["port"]) == set(range(1, 8)) and acc_all.dropped["excluded_port"] == 0


@pytest.mark.parametrize(
    "dataset",
    [
        "d20190617_SCOTT_WKG",  # Etc/GMT+7, semi-arid
        "d20200109_HIRANO_PDF",  # Etc/GMT-7, southern hemisphere
        "d20200423_SANCHEZ-CANETE",  # UTC
        "d20200212_ATAKA",
    ],
)  # Asia/Tokyo
def test_time_is_local_standard_time(cosore_root, dataset):
    """Shallow soil temperature peaks in the early afternoon of local (solar) time."""
    rec, _ = load_records(dataset, cosore_root, ports="all")
    by_hour = rec.groupby(rec["time"].dt.hour)["soil_temp_c"].mean()
    assert 12 <= int(by_hour.idxmax()) <= 17, by_hour.round(1).to_dict()
    assert rec.attrs["depths_cm"]["soil_temp_depth_cm"] <= 5


def test_daily_table_accounting_closes_and_cache(cosore_root):
    daily, acc = daily_table(cosore_root, progress=False)
    assert len(acc) == 84
    assert acc["status"].value_counts().to_dict() == {"ok": 72, "no_data": 12}
    dropped = acc[[f"dropped_{r}" for r in DROP_REASONS]].sum(axis=1)
    assert (acc["raw"] == acc["kept"] + dropped).all()
    assert int(acc["raw"].sum()) == 3_454_284
    assert acc["dropped_igbp_percentile"].sum() > 0
    assert daily["dataset"].nunique() >= 65
    assert not daily.duplicated(["dataset", "date"]).any()
    assert (daily["flux_n"] >= 1).all() and np.isfinite(daily["flux_umol_m2_s"]).all()
    assert daily["swc_m3_m3"].dropna().between(0, 1).all()
    assert daily["soil_temp_c"].dropna().between(-50, 70).all()
    # flux_n per dataset equals the kept records behind the daily values
    n = daily.groupby("dataset")["flux_n"].sum()
    kept = acc.set_index("dataset")["kept"]
    assert (n == kept.loc[n.index]).all()
    t0 = time.perf_counter()
    again, acc2 = daily_table(cosore_root, progress=False)
    assert time.perf_counter() - t0 < 2
    pd.testing.assert_frame_equal(again, daily)
    pd.testing.assert_frame_equal(acc2, acc)


def test_flat_layout_matches_package_layout(cosore_root, tmp_path):
    flat = flat_copy(cosore_root, tmp_path / "flat")
    # the name csr_make_release() uses: datasets/data_<name>.csv
    name = "d20190526_MINIONS_IMNH"
    (flat / "datasets" / name / "data.csv").rename(flat / "datasets" / f"data_{name}.csv")
    meta = list_datasets(flat)
    assert list(meta["dataset"]) == ["d20190526_MINIONS_IMNH", "d20200221_MATHES"] and meta["has_data"].all()
    for name in meta["dataset"]:
        a, acc_a = load_records(name, cosore_root, ports="all")
        b, acc_b = load_records(name, flat, ports="all")
        assert acc_a.as_row() == acc_b.as_row()
        pd.testing.assert_series_equal(a["time"], b["time"])
        np.testing.assert_allclose(a["flux_umol_m2_s"], b["flux_umol_m2_s"])


def test_percentile_filter_in_load_records_matches_daily_table(cosore_root):
    """The per-IGBP 1st/99th percentile bounds are pooled over all datasets of a class; a single
    dataset loaded with the filter loses exactly the records the daily build drops."""
    _, acc = daily_table(cosore_root, progress=False)
    rec, one = load_records("d20190617_SCOTT_WKG", cosore_root, percentile_filter=True)
    row = acc.set_index("dataset").loc["d20190617_SCOTT_WKG"]
    assert one.dropped["igbp_percentile"] == row["dropped_igbp_percentile"] > 0
    assert one.kept == row["kept"] == len(rec)


def test_port_balance_removes_the_collar_mix_from_sihi_h2(cosore_root):
    """SIHI_H2 measured 3 of its 12 control collars a day in 2012–2013 and 7–9 in 2015–2016; the
    plain daily mean's June–August level swings by a factor 2.05 between years, the port-balanced
    one by less than 1.5 (docs/daily_experiments.md, session 11)."""
    from soilco2.prep.aggregate import aggregate

    rec, _ = load_records("d20190610_SIHI_H2", cosore_root)

    def summer_spread(day):
        jja = day[day.index.month.isin([6, 7, 8])]["flux_umol_m2_s"]
        means = jja.groupby(jja.index.year).mean()
        return means.max() / means.min()

    plain, balanced = aggregate(rec, "1D"), aggregate(rec, "1D", port_balance=True)
    assert summer_spread(plain) == pytest.approx(2.05, abs=0.01)
    assert summer_spread(balanced) < 1.5
    assert (balanced["flux_ports"] == plain["flux_ports"]).all() and balanced.index.equals(plain.index)
