"""Explicit mapping tables for SRDB v5 categorical fields.

Keys are the normalised spelling (whitespace collapsed, lower case); values the canonical
label, or ``None`` when the value does not belong in that field (e.g. a biome of 'Grassland').
Values absent from a table are kept (stripped) and reported as unmapped, never dropped.
Built from the value counts of ``srdb-data.csv`` (SRDB v5, 2022-10-09).
"""

from __future__ import annotations

BIOME = {
    "temperate": "Temperate",
    "boreal": "Boreal",
    "subtropical": "Subtropical",
    "sub-tropical": "Subtropical",
    "tropical": "Tropical",
    "mediterranean": "Mediterranean",
    "alpine": "Alpine",
    "arctic": "Arctic",
    "tundra": "Tundra",
    "subarctic": "Subarctic",
    "semiarid": "Semiarid",
    "semi-arid": "Semiarid",
    "continental": "Continental",
    "continental monsoon": "Continental monsoon",
    "terrestrial": None,  # not a biome
    "grassland": None,  # an ecosystem type entered as biome
}

ECOSYSTEM_TYPE = {
    "forest": "Forest",
    "grassland": "Grassland",
    "agriculture": "Agriculture",
    "cropland": "Agriculture",
    "orchard": "Orchard",
    "shrubland": "Shrubland",
    "wetland": "Wetland",
    "peatland": "Peatland",
    "desert": "Desert",
    "tundra": "Tundra",
    "savanna": "Savanna",
    "bare": "Bare",
    "urban": "Urban",
    "mixed": "Mixed",
    "waterlogged depression": "Waterlogged depression",
    "salt pan": "Salt pan",
}

ECOSYSTEM_STATE = {"managed": "Managed", "manged": "Managed", "natural": "Natural", "unmanaged": "Unmanaged"}

LEAF_HABIT = {"deciduous": "Deciduous", "evergreen": "Evergreen", "mixed": "Mixed"}

STAGE = {"mature": "Mature", "aggrading": "Aggrading"}

SOIL_DRAINAGE = {"dry": "Dry", "wet": "Wet", "medium": "Medium", "mixed": "Mixed"}

MEAS_METHOD = {
    "irga": "IRGA",
    "igra": "IRGA",
    "gas chromatography": "Gas chromatography",
    "gas chromatograph": "Gas chromatography",
    "alkali absorption": "Alkali absorption",
    "soda lime": "Soda lime",
    "ec": "Eddy covariance",
    "eddy covariance": "Eddy covariance",
    "gradient": "Gradient",
    "isotope": "Isotope",
    "equation": "Equation",
    "other": "Other",
    "unknown": None,
}

PARTITION_METHOD = {
    "exclusion": "Exclusion",
    "extraction": "Extraction",
    "comparison": "Comparison",
    "isotope": "Isotope",
    "subtraction": "Subtraction",
    "gap/clear cut/clip": "Gap/clear cut/clip",
    "model": "Model",
    "other": "Other",
    "girdling": "Girdling",
    "tbca": "TBCA",
    "trench": "Trench",
    "trenching": "Trench",
    "deeppvc": "DeepPVC",
    "regression": "Regression",
    "incubation": "Incubation",
    "mesh bag": "Mesh bag",
}

# original column -> (normalised column, table)
CATEGORICAL = {
    "Biome": ("biome", BIOME),
    "Ecosystem_type": ("ecosystem_type", ECOSYSTEM_TYPE),
    "Ecosystem_state": ("ecosystem_state", ECOSYSTEM_STATE),
    "Leaf_habit": ("leaf_habit", LEAF_HABIT),
    "Stage": ("stage", STAGE),
    "Soil_drainage": ("soil_drainage", SOIL_DRAINAGE),
    "Meas_method": ("meas_method", MEAS_METHOD),
    "Partition_method": ("partition_method", PARTITION_METHOD),
}

# SRDB Quality_flag codes (srdb-data_fields.txt); 'Q1' etc. are normalised to 'Q01'.
QUALITY_CODES = {
    "Q0": "default/none",
    "Q01": "estimated from figure",
    "Q02": "data from another study",
    "Q03": "data estimated - other",
    "Q04": "potentially useful future data",
    "Q10": "potential problem with data",
    "Q11": "suspected problem with data",
    "Q12": "known problem with data",
    "Q13": "duplicate?",
    "Q14": "inconsistency",
    # Q15, Q16 occur in the data but are not defined in srdb-data_fields.txt
}


def known_quality_codes(given, normalised: list[str], seen) -> list[str]:
    """The normalised codes of ``--drop-quality`` (one a list entry); a code neither defined nor in the data (``seen``:
    each record's codes) is a :class:`UserError` — an unknown code once dropped every unflagged record."""
    from soilco2.errors import UserError

    known = set(QUALITY_CODES) | set(",".join(seen).split(",")) - {""}
    out = []
    for code, norm in zip(given, normalised, strict=True):
        parts = [c for c in norm.split(",") if c]
        if not parts or set(parts) - known:
            raise UserError(f"unknown SRDB quality code {code!r} (known: {', '.join(sorted(known))})",
                            field="--drop-quality")  # fmt: skip
        out += parts
    return out
