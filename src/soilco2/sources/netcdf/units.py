"""Carbon-flux units of process-model files → the factor to g C m-2 yr-1.

A unit string is read as a product of factors, each with an exponent: ``kg C m-2 s-1``,
``kg m-2 s-1`` (CMIP's carbon mass fluxes, the "C" implied), ``gC/m2/day``, ``g C m-2 month-1``,
``Mg C ha-1 yr-1``, ``umol CO2 m-2 s-1``, ``g CO2 m-2 d-1`` (converted to carbon by 12.011/44.009).
One mass (or amount), one area and one time are required; anything else is an error naming it.
A year is 365 days and a month 365/12 days (the convention of the annual and monthly means of
the models this is written for).
"""

from __future__ import annotations

import re

from soilco2.errors import UserError

C_PER_CO2 = 12.011 / 44.009
G_C_PER_MOL = 12.011
DAYS_PER_YEAR = 365.0

MASS_G = {"pg": 1e15, "tg": 1e12, "gg": 1e9, "megag": 1e6, "t": 1e6, "kg": 1e3, "g": 1.0, "mg": 1e-3}
AMOUNT_MOL = {"mol": 1.0, "mmol": 1e-3, "umol": 1e-6, "µmol": 1e-6, "μmol": 1e-6, "nmol": 1e-9}
AREA_M2 = {"m": (1.0, -2), "km": (1e6, -2), "ha": (1e4, -1)}  # name -> (m2, the exponent it needs)
TIME_PER_YEAR = {  # how many of the unit fit in one year
    "s": DAYS_PER_YEAR * 86400,
    "sec": DAYS_PER_YEAR * 86400,
    "h": DAYS_PER_YEAR * 24,
    "hr": DAYS_PER_YEAR * 24,
    "hour": DAYS_PER_YEAR * 24,
    "d": DAYS_PER_YEAR,
    "day": DAYS_PER_YEAR,
    "month": 12.0,
    "mon": 12.0,
    "yr": 1.0,
    "year": 1.0,
    "a": 1.0,
}
SPECIES = {"c": 1.0, "co2": None, "co2-c": 1.0, "carbon": 1.0}  # None: depends on mass or amount


def _tokens(units: str) -> list[tuple[str, int]]:
    """``'gC/m2/day'`` → [('g', 1), ('c', 1), ('m2', -1), ('day', -1)]; exponents from ``-2``,
    ``^-2``, ``**-2`` and ``/``."""
    s = re.sub(r"\bMg", "megag", units.strip())  # megagram before the lower-casing (mg: milligram)
    s = s.lower().replace("**", "^").replace("·", " ").replace("*", " ")
    s = re.sub(r"\b(k|p|t|megag|)gc\b", r"\1g c", s)
    out: list[tuple[str, int]] = []
    for k, part in enumerate(s.split("/")):
        for word in part.split():
            m = re.fullmatch(r"(co2-c|co2|[a-zµμ]+)\^?(-?\d+)?", word)
            if not m:
                raise ValueError(word)
            exp = int(m.group(2)) if m.group(2) else 1
            out.append((m.group(1), -exp if k > 0 else exp))
    return out


def to_gc_m2_yr(units: str, *, file=None, field: str | None = None) -> float:
    """The factor that turns a value in ``units`` into g C m-2 yr-1; a :class:`UserError` naming
    ``file`` and ``field`` for a unit that is not a carbon flux per area and time."""
    bad = UserError(
        f"unknown flux unit {units!r} (expected e.g. 'kg C m-2 s-1', 'g C m-2 d-1', 'g C m-2 yr-1'; "
        "set the model's units in the config)",
        file=file,
        field=field,
    )
    try:
        tokens = _tokens(units)
    except ValueError:
        raise bad from None
    factor, mass, area, time, co2 = 1.0, 0, 0, 0, False
    for name, exp in tokens:
        if name in SPECIES and exp == 1:
            co2 = co2 or SPECIES[name] is None
        elif name in MASS_G and exp == 1:
            factor *= MASS_G[name]
            mass += 1
        elif name in AMOUNT_MOL and exp == 1:
            factor *= AMOUNT_MOL[name] * G_C_PER_MOL  # one mole of CO2 or of C is one mole of C
            mass += 1
        elif name in AREA_M2 and exp == AREA_M2[name][1]:
            factor /= AREA_M2[name][0]
            area += 1
        elif name in TIME_PER_YEAR and exp == -1:
            factor *= TIME_PER_YEAR[name]
            time += 1
        else:
            raise bad
    if (mass, area, time) != (1, 1, 1):
        raise bad
    if co2 and not any(n in AMOUNT_MOL for n, _ in tokens):
        factor *= C_PER_CO2
    return factor
