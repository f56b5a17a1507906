"""Row accounting: where every raw record of one dataset went, each dropped record counted under
exactly one reason, so that ``raw == kept + sum(dropped_<reason>)``. Used by the readers that
clean as they read (SRDB) and by the COSORE cleaning in ``prep``."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

DROP_REASONS = (
    "bad_timestamp",  # missing / unparsable / outside YEAR_MIN..YEAR_MAX / later than today
    "unknown_port",  # port in the data but not in PORTS.txt (and no port-0 row)
    "excluded_port",  # port measures another variable or treatment than selected
    "nonfinite_flux",  # NaN, +-inf or non-numeric CSR_FLUX_CO2
    "implausible_flux",  # outside FLUX_MIN..FLUX_MAX
    "duplicate_timestamp",  # same port and timestamp as another record (merged into their mean)
    "igbp_percentile",  # outside the 1st..99th percentile of its IGBP class (optional)
)


@dataclass
class Accounting:
    """Where every raw record of one dataset went."""

    dataset: str
    raw: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: {r: 0 for r in DROP_REASONS})
    status: str = "ok"  # ok | no_data | error
    message: str = ""
    notes: list[str] = field(default_factory=list)
    driver_values_nan: int = 0  # driver values set to NaN (records kept), see clean_drivers
    driver_nan: dict[str, int] = field(default_factory=dict)  # the same by reason and driver

    def count_driver(self, reason_driver: str, n: int) -> None:
        """Driver values set to NaN, e.g. ``out_of_range_air_temp`` (the record itself is kept)."""
        self.driver_nan[reason_driver] = self.driver_nan.get(reason_driver, 0) + int(n)

    def drop(self, reason: str, n: int) -> None:
        if reason not in self.dropped:
            raise KeyError(f"unknown drop reason {reason!r}")
        self.dropped[reason] += int(n)
        self.kept -= int(n)

    @property
    def closes(self) -> bool:
        return self.raw == self.kept + sum(self.dropped.values())

    def as_row(self) -> dict:
        row = {"dataset": self.dataset, "status": self.status, "raw": self.raw, "kept": self.kept}
        row.update({f"dropped_{k}": v for k, v in self.dropped.items()})
        row["driver_values_nan"] = self.driver_values_nan
        row.update({f"driver_{k}": v for k, v in sorted(self.driver_nan.items())})
        row["message"] = self.message
        row["notes"] = "; ".join(self.notes)
        return row


def accounting_table(accounts: list[Accounting]) -> pd.DataFrame:
    """One row per dataset: dataset, status, raw, kept, dropped_<reason>..., message, notes."""
    table = pd.DataFrame([a.as_row() for a in accounts])
    per_driver = [c for c in table.columns if c.startswith("driver_") and c != "driver_values_nan"]
    table[per_driver] = table[per_driver].fillna(0).astype("int64")
    front = [c for c in table.columns if c not in ("message", "notes")]
    return table[front + [c for c in ("message", "notes") if c in table.columns]]
