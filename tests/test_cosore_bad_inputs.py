"""Bad COSORE inputs, on small broken copies written into tmp_path: each is either one clear
UserError naming file and field, or a counted skip."""

from __future__ import annotations

import pandas as pd
import pytest

from cosore_copy import SMALL, edit_description, flat_copy, package_copy
from soilco2.errors import UserError
from soilco2.prep.cosore_records import daily_table, load_records
from soilco2.sources.cosore import list_datasets

pytestmark = pytest.mark.realdata
NAME = SMALL[0]  # d20200221_MATHES: PORTS.txt has port 0 (all ports), data ports 1..8


@pytest.fixture
def small(cosore_root, tmp_path):
    return package_copy(cosore_root, tmp_path / "cosore")


def test_data_root_missing(tmp_path):
    with pytest.raises(UserError, match="does not exist") as err:
        list_datasets(tmp_path / "nowhere")
    assert "nowhere" in str(err.value)


def test_missing_data_file_is_no_data(small):
    (small / "datasets" / NAME / "data" / "data.RDS").unlink()
    rec, acc = load_records(NAME, small)
    assert rec.empty and acc.status == "no_data" and acc.raw == 0


def test_corrupt_rds_error_and_counted_skip(small):
    bad = small / "datasets" / NAME / "data" / "data.RDS"
    bad.write_bytes(b"this is not an R data file")
    with pytest.raises(UserError, match="corrupt") as err:
        load_records(NAME, small)
    assert err.value.file == str(bad)
    with pytest.warns(UserWarning, match=NAME):
        daily, acc = daily_table(small, cache=False, progress=False)
    acc = acc.set_index("dataset")
    assert acc.at[NAME, "status"] == "error" and "corrupt" in acc.at[NAME, "message"]
    assert acc.at[SMALL[1], "status"] == "ok" and set(daily["dataset"]) == {SMALL[1]}


def test_empty_data_is_no_data(small):
    import pyreadr

    path = small / "datasets" / NAME / "data" / "data.RDS"
    empty = pyreadr.read_r(str(path))[None].iloc[:0]
    pyreadr.write_rds(str(path), empty)
    rec, acc = load_records(NAME, small)
    assert rec.empty and acc.status == "no_data" and acc.closes


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("CSR_TIMEZONE", None, "missing"),
        ("CSR_IGBP", None, "missing"),
        ("CSR_TIMEZONE", "Mars/Olympus_Mons", "unknown time zone"),
        ("CSR_LATITUDE", "123.4", "outside -90..90"),
        ("CSR_LONGITUDE", "-200", "outside -180..180"),
        ("CSR_LATITUDE", "north", "not a number"),
        ("CSR_IGBP", "Moon dust", "unknown IGBP"),
    ],
)
def test_description_errors_name_file_and_field(small, key, value, match):
    path = edit_description(small, NAME, key, value)
    with pytest.raises(UserError, match=match) as err:
        load_records(NAME, small)
    assert err.value.file == str(path) and err.value.field == key
    listed = list_datasets(small).set_index("dataset")
    assert key in listed.at[NAME, "problem"]  # the listing reports it, without raising


def test_ports_naming_absent_ports_and_unknown_data_ports(small):
    ports = small / "datasets" / NAME / "PORTS.txt"
    ports.write_text("CSR_PORT,\tCSR_MSMT_VAR,\tCSR_TREATMENT\n1,\tRs,\tNone\n2,\t\tRs,\tNone,\t\n99,\tRs,\tNone\n")
    rec, acc = load_records(NAME, small)
    assert set(rec["port"]) == {1, 2}
    assert acc.dropped["unknown_port"] > 0 and acc.closes
    notes = " ".join(acc.notes)
    assert "absent from the data: [99]" in notes and "absent from PORTS.txt: [3, 4, 5, 6, 7, 8]" in notes


def test_ports_file_missing_column(small):
    ports = small / "datasets" / NAME / "PORTS.txt"
    ports.write_text("CSR_PORT,\tCSR_TREATMENT\n0,\tNone\n")
    with pytest.raises(UserError) as err:
        load_records(NAME, small)
    assert err.value.field == "CSR_MSMT_VAR" and err.value.file == str(ports)


def test_bad_duplicate_timestamps_and_text_flux_are_counted(cosore_root, tmp_path):
    flat = flat_copy(cosore_root, tmp_path / "flat", names=(NAME,))
    path = flat / "datasets" / NAME / "data.csv"
    df = pd.read_csv(path)
    n = len(df)
    df["CSR_TIMESTAMP_BEGIN"] = df["CSR_TIMESTAMP_BEGIN"].astype(object)
    df["CSR_TIMESTAMP_END"] = df["CSR_TIMESTAMP_END"].astype(object)
    df.loc[0:2, ["CSR_TIMESTAMP_BEGIN", "CSR_TIMESTAMP_END"]] = "not a date"  # 3 unparsable
    df["CSR_FLUX_CO2"] = df["CSR_FLUX_CO2"].astype(object)
    df.loc[3:4, "CSR_FLUX_CO2"] = "1.2.3"  # 2 non-numeric fluxes
    dup = df.iloc[[10, 11]].copy()  # 2 exact duplicates (same port and time)
    df = pd.concat([df, dup], ignore_index=True)
    df.to_csv(path, index=False)
    rec, acc = load_records(NAME, flat, ports="all")
    assert acc.raw == n + 2 and acc.closes
    assert acc.dropped["bad_timestamp"] == 3
    assert acc.dropped["nonfinite_flux"] >= 2 and any("non-numeric CSR_FLUX_CO2" in s for s in acc.notes)
    assert acc.dropped["duplicate_timestamp"] >= 2
    assert not rec.duplicated(["port", "time"]).any()


def test_flux_column_missing(cosore_root, tmp_path):
    flat = flat_copy(cosore_root, tmp_path / "flat", names=(NAME,))
    path = flat / "datasets" / NAME / "data.csv"
    pd.read_csv(path).drop(columns="CSR_FLUX_CO2").to_csv(path, index=False)
    with pytest.raises(UserError) as err:
        load_records(NAME, flat)
    assert err.value.field == "CSR_FLUX_CO2" and err.value.file == str(path)


def test_unknown_dataset_and_port_selection(small):
    with pytest.raises(UserError, match="no such COSORE dataset"):
        load_records("d19990101_NOBODY", small)
    with pytest.raises(UserError, match="port selection"):
        load_records(NAME, small, ports="treated")
