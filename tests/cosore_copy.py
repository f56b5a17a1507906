"""Helpers for COSORE tests: small package-layout and flat-layout copies written into tmp_path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

SMALL = ("d20200221_MATHES", "d20190526_MINIONS_IMNH")  # 316 and 1,272 records


def package_copy(cosore_root: Path, dest: Path, names=SMALL, with_data: bool = True) -> Path:
    """Copy DESCRIPTION.txt, PORTS.txt (and data/data.RDS) of ``names`` into ``dest/datasets``."""
    for name in names:
        src, out = cosore_root / "datasets" / name, dest / "datasets" / name
        (out / "data").mkdir(parents=True)
        for f in ("DESCRIPTION.txt", "PORTS.txt"):
            shutil.copy(src / f, out / f)
        if with_data:
            shutil.copy(src / "data" / "data.RDS", out / "data" / "data.RDS")
    return dest


def edit_description(root: Path, name: str, key: str, value: str | None) -> Path:
    """Set (or with None remove) one ``KEY: value`` line of a copied DESCRIPTION.txt."""
    path = root / "datasets" / name / "DESCRIPTION.txt"
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith(f"{key}:")]
    if value is not None:
        lines.append(f"{key}: {value}")
    path.write_text("\n".join(lines) + "\n")
    return path


def flat_copy(cosore_root: Path, dest: Path, names=SMALL) -> Path:
    """Write the flat release layout: description.csv, ports.csv, datasets/<name>/data.csv.

    Timestamps are written as naive local standard time of CSR_TIMEZONE (how the flat reader
    interprets offset-free timestamps).
    """
    import pyreadr

    from soilco2.sources.cosore import parse_description, parse_ports, standard_offset

    descs, ports = [], []
    for name in names:
        src = cosore_root / "datasets" / name
        desc = parse_description(src / "DESCRIPTION.txt")
        descs.append({"CSR_DATASET": name, **desc})
        p = parse_ports(src / "PORTS.txt")
        p.insert(0, "CSR_DATASET", name)
        ports.append(p)
        data = pyreadr.read_r(str(src / "data" / "data.RDS"))[None]
        off = standard_offset(desc["CSR_TIMEZONE"])
        for col in ("CSR_TIMESTAMP_BEGIN", "CSR_TIMESTAMP_END"):
            data[col] = (data[col] + off).dt.strftime("%Y-%m-%d %H:%M:%S")
        (dest / "datasets" / name).mkdir(parents=True)
        data.to_csv(dest / "datasets" / name / "data.csv", index=False)
    pd.DataFrame(descs).to_csv(dest / "description.csv", index=False)
    pd.concat(ports).to_csv(dest / "ports.csv", index=False)
    return dest
