"""Run the IOOS compliance checker's CF 1.8 suite on a NetCDF file soilco2 wrote.

An error is a failed high-priority check (what the checker prints under "Highest Priority"), plus
what it does not check itself: units UDUNITS reads as coulombs ("g C m-2"), a station series
without ``featureType``, a fill value on a coordinate."""

from __future__ import annotations

import warnings
from pathlib import Path

import xarray as xr


def cf_errors(path: str | Path) -> list[str]:
    from compliance_checker.base import BaseCheck
    from compliance_checker.runner import CheckSuite

    suite = CheckSuite()
    with warnings.catch_warnings():  # the IOOS SOS checkers announce their deprecation on load
        warnings.simplefilter("ignore", DeprecationWarning)
        suite.load_all_available_checkers()
    nc = suite.load_dataset(str(path))
    try:
        groups = suite.run_all(nc, ["cf:1.8"], skip_checks=[])
        results = groups["cf:1.8"][0]
    finally:
        nc.close()
    errors = [
        f"{r.name}: {'; '.join(r.msgs)}"
        for r in results
        if r.weight == BaseCheck.HIGH and isinstance(r.value, tuple) and r.value[0] < r.value[1]
    ]
    with xr.open_dataset(path, decode_cf=False) as ds:
        for name, var in ds.variables.items():
            units = str(var.attrs.get("units", ""))
            if " C " in f" {units} ":
                errors.append(f"{name}: units {units!r} read as coulomb")
            if name in ds.coords and "_FillValue" in var.attrs:
                errors.append(f"{name}: a coordinate with _FillValue")
            if "cf_role" in var.attrs and "featureType" not in ds.attrs:
                errors.append(f"{name}: cf_role without a global featureType")
    return errors
