"""SRDB reader: real-data counts and invariants, plus small synthetic copies with known answers
(coordinate checks, duplicates, Rs >= Rh, accounting, bad input, CLI)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from soilco2.commands.srdb import app
from soilco2.errors import UserError
from soilco2.sources import srdb as s
from soilco2.sources import srdb_vocab as vocab


@pytest.fixture(scope="module")
def real(data_root):
    return s.load_srdb(data_root, with_report=True)


def _closes(acc: pd.DataFrame) -> bool:
    dropped = acc[[c for c in acc.columns if c.startswith("dropped_")]].sum(axis=1)
    return bool((acc["raw"] == acc["kept"] + dropped).all())


def test_real_counts_and_accounting(real):
    records, acc, report = real
    row = acc.iloc[0]
    assert _closes(acc) and len(records) == row["kept"]
    assert row["raw"] == 12272  # records in srdb-data.csv (SRDB v5, 2022-10-09)
    unmanipulated = row["raw"] - row["dropped_manipulated"]
    assert unmanipulated == 7411  # README: ~7,400 (4,359 with Rs_annual, 906 with Rh_annual)
    # every record dropped after the manipulation step carried an Rs_annual
    later = row["dropped_implausible_rs_annual"] + row["dropped_implausible_rh_annual"] + row["dropped_rs_lt_rh"]
    assert records["rs_annual_gc_m2_yr"].notna().sum() == 4359 - later == 4332
    assert records["rh_annual_gc_m2_yr"].notna().sum() > 880
    assert report["nonnumeric"] == {}


def test_real_invariants(real):
    records, _, _ = real
    both = records.dropna(subset=["rs_annual_gc_m2_yr", "rh_annual_gc_m2_yr"])
    assert len(both) > 500 and (both["rs_annual_gc_m2_yr"] >= both["rh_annual_gc_m2_yr"]).all()
    assert records["rs_annual_gc_m2_yr"].dropna().between(0, s.RS_MAX_GC_M2_YR, inclusive="right").all()
    assert records["manipulation"].str.lower().isin(s.UNMANIPULATED).all()
    for col, (new, table) in vocab.CATEGORICAL.items():
        labels = set(records[new].dropna())
        assert labels <= {v for v in table.values() if v}, (col, labels - set(table.values()))
    assert records["Biome"].str.endswith(" ").any()  # originals are kept as read
    assert "Manged" not in set(records["ecosystem_state"])
    # flags exist and are plausible in size: a handful at sea, a few hundred without coordinates
    assert 0 < records["flag_in_sea"].sum() < 50 and records["flag_no_coords"].sum() > 100
    assert records.loc[records["flag_in_sea"], "land_fraction"].eq(0).all()
    # Laqueuille (France, 45.63 N 2.73 E) is entered with a negative longitude
    laq = records[records["site_name"].eq("Laqueuille") & records["flag_in_sea"]]
    assert len(laq) and (laq["candidate_lon"] == 2.73).all() and laq["flag_lon_sign"].all()
    dup = records[records["duplicate_group"] >= 0]
    assert dup.groupby("duplicate_group").size().min() >= 2
    assert records["flag_duplicate"].sum() == len(dup) - dup["duplicate_group"].nunique()


def test_quality_codes_normalised():
    got = s.parse_quality_codes(pd.Series(["Q1, Q10", "", "Q03,Q10,Q16", "Q0", "q2;Q13"]))
    assert got.tolist() == ["Q01,Q10", "", "Q03,Q10,Q16", "Q0", "Q02,Q13"]


def test_normalise_categorical_reports_changes():
    vals = pd.Series(["Temperate ", "Sub-tropical", "Grassland", "", "Weird  biome"])
    out, changes = s.normalise_categorical(vals, vocab.BIOME)
    assert out.tolist() == ["Temperate", "Subtropical", None, None, "Weird biome"]
    assert changes == {
        "Temperate ": "Temperate",
        "Sub-tropical": "Subtropical",
        "Grassland": "<missing>",
        "Weird  biome": "<unmapped>",
    }


# ---------------------------------------------------------------- synthetic copies
def _record(n, lat, lon, rs="", rh="", manip="None", year="2005", **extra):
    row = {c: "" for c in s.REQUIRED_COLUMNS}
    row.update(
        Record_number=str(n),
        Study_number="1",
        Site_name=f"site{n}",
        Country="X",
        Latitude=str(lat),
        Longitude=str(lon),
        Manipulation=manip,
        Study_midyear=year,
        YearsOfData="1",
        Rs_annual=str(rs),
        Rh_annual=str(rh),
        Biome="Temperate ",
        Ecosystem_type="Forest",
    )
    row.update(extra)
    return row


def _write(root, rows, drop_cols=()):
    (root / "srdb").mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(rows).drop(columns=list(drop_cols))
    df.to_csv(root / "srdb" / s.SRDB_FILE, index=False)
    return root


@pytest.fixture()
def tiny(tmp_path, data_root):
    (tmp_path / "grids").symlink_to(data_root / "grids")  # the real land-fraction grid, not copied
    rows = [
        _record(1, 50.5, 10.5, rs=700, rh=400),  # Germany, fine
        _record(2, 47.5, -8.5, rs=650),  # Bay of Biscay: lon sign flipped from 8.5 E
        _record(3, -50.0, -10.0, rs=900),  # South Atlantic: lat/lon swapped from Brazil (-10, -50)
        _record(4, 50.5, 10.5, rs=700, rh=400),  # duplicate of 1
        _record(5, 50.5, 10.5, rs=300, rh=400),  # Rs < Rh
        _record(6, 50.5, 10.5, rs=800, manip="Warmed"),  # manipulated
        _record(7, "", "", rs=-5),  # implausible Rs, no coordinates
        _record(8, "", "", rs="n/a?", Quality_flag="Q12"),  # non-numeric Rs
        _record(9, -45.0, -30.0, rs=500),  # South Atlantic: no candidate fix lands on land
    ]
    return _write(tmp_path, rows)


def test_synthetic_flags_and_accounting(tiny):
    rec, acc, report = s.load_srdb(tiny, with_report=True)
    row = acc.iloc[0]
    assert _closes(acc)
    assert (row["raw"], row["kept"]) == (9, 6)
    assert (row["dropped_manipulated"], row["dropped_implausible_rs_annual"], row["dropped_rs_lt_rh"]) == (1, 1, 1)
    assert report["nonnumeric"] == {"Rs_annual": 1} and "Rs_annual=1" in row["notes"]
    r = rec.set_index("record_number")
    assert not r.loc["1", "flag_in_sea"] and r.loc["1", "land_fraction"] == 1
    assert r.loc["2", "flag_in_sea"] and r.loc["2", "flag_lon_sign"] and not r.loc["2", "flag_coords_swapped"]
    assert (r.loc["2", "candidate_lat"], r.loc["2", "candidate_lon"]) == (47.5, 8.5)
    assert r.loc["3", "flag_coords_swapped"] and (r.loc["3", "candidate_lat"], r.loc["3", "candidate_lon"]) == (
        -10,
        -50,
    )
    assert r.loc["9", "flag_in_sea"] and np.isnan(r.loc["9", "candidate_lat"])
    assert r.loc["8", "flag_no_coords"] and r.loc["8", "qc_known_problem"]
    assert not r.loc["1", "flag_duplicate"] and r.loc["4", "flag_duplicate"]
    assert r.loc["1", "duplicate_group"] == r.loc["4", "duplicate_group"] >= 0
    assert r.loc["2", "duplicate_group"] == -1
    assert set(rec["biome"]) == {"Temperate"} and rec["rs_ge_rh_checked"].sum() == 2


def test_synthetic_options(tiny):
    rec, acc = s.load_srdb(tiny, manipulated=True, drop_duplicates=True, drop_quality_codes=("Q12",))
    row = acc.iloc[0]
    assert _closes(acc) and row["dropped_manipulated"] == 0
    assert (row["dropped_duplicate"], row["dropped_quality_code"]) == (1, 1)
    assert "4" not in set(rec["record_number"]) and "6" in set(rec["record_number"])


def test_missing_columns_named(tmp_path):
    _write(tmp_path, [_record(1, 50, 10, rs=500)], drop_cols=("Rs_annual", "Manipulation"))
    with pytest.raises(UserError) as err:
        s.load_srdb(tmp_path)
    assert s.SRDB_FILE in str(err.value) and "Manipulation" in str(err.value) and "Rs_annual" in str(err.value)


def test_missing_and_empty_files(tmp_path):
    (tmp_path / "srdb").mkdir()
    with pytest.raises(UserError, match="not found"):
        s.load_srdb(tmp_path)
    (tmp_path / "srdb" / s.SRDB_FILE).write_text("")
    with pytest.raises(UserError, match="empty"):
        s.load_srdb(tmp_path)


def test_records_near_known_distance(tiny):
    rec, _ = s.load_srdb(tiny)
    near = s.records_near(rec, [50.5, 10.0], [10.51, 10.0], max_distance_km=2.0)
    assert set(near["point"]) == {0} and set(near["record_number"]) == {"1", "4"}
    assert near["distance_km"].iloc[0] == pytest.approx(0.708, abs=0.005)  # 0.01 deg lon at 50.5 N


def test_cli_build_and_summary(tiny, tmp_path):
    runner = CliRunner()
    out = tmp_path / "out"
    res = runner.invoke(app, ["build", "--out", str(out), "--data-root", str(tiny)])
    assert res.exit_code == 0, res.output
    table = pd.read_parquet(out / "srdb.parquet")
    acc = pd.read_csv(out / "srdb_accounting.csv")
    assert len(table) == 6 and _closes(acc) and {"rs_annual_gc_m2_yr", "Rs_annual"} <= set(table.columns)
    assert json.loads((out / "srdb_build.json").read_text())["units"]["rs_annual_gc_m2_yr"] == "g C m-2 yr-1"
    changes = pd.read_csv(out / "srdb_categorical_changes.csv")
    assert changes.to_dict("records") == [{"field": "Biome", "raw_label": "Temperate ", "normalised": "Temperate"}]
    res = runner.invoke(app, ["summary", "--data-root", str(tiny)])
    assert res.exit_code == 0 and "kept" in res.output and "flag_in_sea" in res.output


def test_cli_missing_column_is_one_line(tmp_path):
    import subprocess
    import sys

    _write(tmp_path, [_record(1, 50, 10, rs=500)], drop_cols=("Latitude",))
    proc = subprocess.run(
        [sys.executable, "-m", "soilco2.cli", "data", "srdb", "summary", "--data-root", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "Latitude" in proc.stderr and s.SRDB_FILE in proc.stderr
