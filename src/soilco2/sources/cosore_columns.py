"""COSORE conventions: the CSR driver columns (sensors at depth, air, light, ...), the standard
driver names soilco2 gives them, and the IGBP vocabulary of ``CSR_IGBP``."""

from __future__ import annotations

import re
from pathlib import Path

from soilco2.errors import UserError

# CSR driver columns: soil temperature / moisture at depth (cm), air temperature, light, ...
_DEPTH_RE = re.compile(r"^CSR_(T|SM)(\d+(?:\.\d+)?)$")
DRIVER_FIXED = (
    "CSR_TAIR",
    "CSR_TAIR_AMB",
    "CSR_PAR",
    "CSR_PAR_AMB",
    "CSR_PRECIP",
    "CSR_RH",
    "CSR_VPD",
    "CSR_WTD",
    "CSR_WIND",
    "CSR_SOIL_O2",
    "CSR_TWATER",
)
PRECIP_COLUMNS = ("CSR_PRECIP", "precip_mm")
# Standard driver names (docs/contracts.md) and their temperature flag.
STANDARD_DRIVERS = ("soil_temp_c", "swc_m3_m3", "air_temp_c", "par_umol_m2_s", "rh_pct", "precip_mm")
TEMPERATURE_COLUMNS = ("soil_temp_c", "air_temp_c")


def sensor_depth_cm(column: str) -> tuple[str, float] | None:
    """('T'|'SM', depth in cm) for ``CSR_T5``/``CSR_SM10``-style columns, else None."""
    m = _DEPTH_RE.match(column)
    return (m.group(1), float(m.group(2))) if m else None


def driver_columns(columns) -> list[str]:
    """The in-situ driver columns present (CSR names and standard names)."""
    return [c for c in columns if sensor_depth_cm(c) or c in DRIVER_FIXED or c in STANDARD_DRIVERS]


IGBP_CODES = {
    "ENF": "Evergreen needleleaf forest",
    "EBF": "Evergreen broadleaf forest",
    "DNF": "Deciduous needleleaf forest",
    "DBF": "Deciduous broadleaf forest",
    "MF": "Mixed forests",
    "CSH": "Closed shrubland",
    "OSH": "Open shrubland",
    "WSA": "Woody savanna",
    "SAV": "Savannas",
    "GRA": "Grassland",
    "WET": "Wetland",
    "CRO": "Cropland",
    "URB": "Urban",
    "CVM": "Cropland/natural vegetation mosaic",
    "SNO": "Snow and ice",
    "BSV": "Barren",
    "WAT": "Water",
}
_IGBP_ALIASES = {
    "broadleaf evergreen forest": "EBF",
    "evergreen broadleaf forests": "EBF",
    "evergreen needleleaf forests": "ENF",
    "evergreen needleleaf plantation": "ENF",
    "deciduous broadleaf forests": "DBF",
    "deciduous broadleaf plantation": "DBF",
    "deciduous needleleaf forests": "DNF",
    "mixed forest": "MF",
    "closed shrublands": "CSH",
    "open shrublands": "OSH",
    "woody savannas": "WSA",
    "savanna": "SAV",
    "grasslands": "GRA",
    "permanent wetlands": "WET",
    "wetlands": "WET",
    "croplands": "CRO",
    "urban and built-up": "URB",
    # sparse trees over desert shrubs: 10-30 % tree cover is the IGBP savanna class
    "desert woodland": "SAV",
}


def igbp_code(name: str, *, file: Path | str | None = None) -> str:
    """IGBP code (``ENF``...) for a COSORE ``CSR_IGBP`` value; unknown values are user errors."""
    key = " ".join(str(name).strip().lower().split())
    for code, full in IGBP_CODES.items():
        if key in (full.lower(), code.lower()):
            return code
    if key in _IGBP_ALIASES:
        return _IGBP_ALIASES[key]
    raise UserError(
        f"unknown IGBP class {name!r} (expected one of: {', '.join(IGBP_CODES.values())})", file=file, field="CSR_IGBP"
    )


# --------------------------------------------------------------------------- locations
