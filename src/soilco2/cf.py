"""One writer for every NetCDF file soilco2 writes, so that each follows the CF conventions the same
way: standard names, UDUNITS-valid units, ``featureType`` for station series, ``cell_methods`` on
means, no fill value on coordinates, complete flag attributes, and an atomic write.

The writers build an ``xarray.Dataset`` with their own long names; :func:`write` finishes it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import xarray as xr

CONVENTIONS = "CF-1.8"

# CF standard names (table v84) of the quantities soilco2 writes.
CO2_FLUX = "surface_upward_mole_flux_of_carbon_dioxide"  # COSORE's µmol CO2 m-2 s-1
CARBON_FLUX = {  # SRDB's annual fluxes, mass of carbon
    "rs": "surface_upward_mass_flux_of_carbon_dioxide_expressed_as_carbon_due_to_respiration_in_soil",
    "rh": "surface_upward_mass_flux_of_carbon_due_to_heterotrophic_respiration_in_soil",
    "ra": "surface_upward_mass_flux_of_carbon_dioxide_expressed_as_carbon_due_to_plant_respiration_in_roots",
}
SOIL_TEMPERATURE = "soil_temperature"
DRIVERS = {  # daily driver stem (without era5_ and _min/_max) -> standard name
    "soil_temp_c": SOIL_TEMPERATURE,
    "air_temp_c": "air_temperature",
    "swc_m3_m3": "volume_fraction_of_condensed_water_in_soil",
    "precip_mm": "lwe_precipitation_rate",  # a daily total in mm d-1
    "rh_pct": "relative_humidity",
    "par_umol_m2_s": "surface_downwelling_photosynthetic_photon_flux_in_air",
    "sw_w_m2": "surface_downwelling_shortwave_flux_in_air",
}

CO2_FLUX_UNITS = "umol m-2 s-1"
# "g C m-2 yr-1" is gram·coulomb under UDUNITS: the unit is g m-2 yr-1 and the long name says "of carbon".
CARBON_FLUX_UNITS = "g m-2 yr-1"
_CARBON_UNIT = re.compile(r"\b([kMPT]?g) C\b")  # "g C", "Mg C", "Pg C": mass of carbon


def carbon_flux_attrs(flux: str | None, long_name: str) -> dict:
    """Attributes of an annual carbon flux map variable (``flux``: rs, rh, ra or None)."""
    attrs = {"units": CARBON_FLUX_UNITS, "long_name": _of_carbon(long_name)}
    if flux in CARBON_FLUX:
        attrs["standard_name"] = CARBON_FLUX[flux]
    return attrs


def driver_attrs(name: str) -> dict:
    """Standard name and daily cell method of a driver variable such as ``era5_air_temp_c_max``."""
    stem = name.removeprefix("era5_")
    method = "mean"
    for suffix, m in (("_min", "minimum"), ("_max", "maximum")):
        if stem.endswith(suffix):
            stem, method = stem.removesuffix(suffix), m
    if stem not in DRIVERS:
        return {}
    return {"standard_name": DRIVERS[stem], "cell_methods": f"time: {method}"}


def _of_carbon(long_name: str) -> str:
    return long_name if "carbon" in long_name else f"{long_name} (mass of carbon)"


def _version() -> str:
    from soilco2 import __version__

    return __version__


def finish(ds: xr.Dataset, *, title: str | None = None, feature_type: str | None = None) -> xr.Dataset:
    """A copy of ``ds`` with the attributes CF asks for; raises ValueError on what it cannot fix
    (a flag variable without its meanings, a station series without ``feature_type``)."""
    out = ds.copy()
    for name in [*out.data_vars, *out.coords]:
        attrs = dict(out[name].attrs)
        if _CARBON_UNIT.search(str(attrs.get("units", ""))):
            attrs["units"] = _CARBON_UNIT.sub(r"\1", attrs["units"])
            attrs["long_name"] = _of_carbon(attrs.get("long_name", str(name)))
        if ("flag_values" in attrs) != ("flag_meanings" in attrs):
            raise ValueError(f"{name}: flag_values and flag_meanings go together")
        if "flag_values" in attrs:
            attrs.pop("units", None)  # a flag variable has no units
            attrs["flag_values"] = np.asarray(attrs["flag_values"], dtype=out[name].dtype)
        out[name].attrs = attrs
    roles = [n for n in out.variables if "cf_role" in out[n].attrs]
    if roles and feature_type is None:
        raise ValueError(f"{roles[0]} has a cf_role: give the feature_type")
    out.attrs = {
        "Conventions": CONVENTIONS,
        **{k: v for k, v in out.attrs.items() if k not in ("Conventions", "history")},
        **({"title": title} if title else {}),
        **({"featureType": feature_type} if feature_type else {}),
        "history": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} written by soilco2 {_version()}",
    }
    return out


def encoding(ds: xr.Dataset, compress: bool = True) -> dict:
    """zlib on data variables; no ``_FillValue`` on coordinates or on integer/flag variables."""
    enc: dict = {}
    for name, var in ds.variables.items():
        e = dict(ds[name].encoding) if name in ds else {}
        e = {k: v for k, v in e.items() if k in ("dtype", "units", "calendar", "_FillValue")}
        if "_FillValue" in var.attrs:
            pass
        elif name in ds.coords or var.dtype.kind in "iub" or "flag_values" in var.attrs:
            e.setdefault("_FillValue", None)
        if name in ds.data_vars and compress and var.dtype.kind != "U" and var.dtype != object:
            e |= {"zlib": True, "complevel": 4}
        if var.dtype.kind == "M" and "units" not in e:
            e |= _time_encoding(var.values)
        enc[str(name)] = e
    return enc


def _time_encoding(values: np.ndarray) -> dict:
    """Whole days as int32 days since 1970, else whole hours, else seconds."""
    t = values[~np.isnat(values)].astype("datetime64[s]").astype(np.int64)
    for unit, step in (("days", 86400), ("hours", 3600)):
        if np.all(t % step == 0):
            return {"units": f"{unit} since 1970-01-01", "calendar": "standard", "dtype": "int32"}
    return {"units": "seconds since 1970-01-01", "calendar": "standard", "dtype": "int64"}


def write(
    ds: xr.Dataset,
    path: str | Path,
    *,
    title: str | None = None,
    feature_type: str | None = None,
    compress: bool = True,
    atomic: bool = True,
) -> Path:
    """Finish ``ds`` (:func:`finish`) and write it to ``path`` (atomically unless told not to)."""
    from soilco2.files import write_with

    out = finish(ds, title=title, feature_type=feature_type)
    enc = encoding(out, compress)
    path = Path(path)
    if atomic:
        write_with(path, lambda tmp: out.to_netcdf(tmp, encoding=enc))
    else:
        out.to_netcdf(path, encoding=enc)
    return path
