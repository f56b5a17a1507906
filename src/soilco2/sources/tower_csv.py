"""The CSV convention of tower files (AmeriFlux, FLUXNET and the JAX-CanVeg copies): -9999 is missing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from soilco2.errors import UserError

MISSING = -9999.0


def read_tower_csv(path: Path) -> pd.DataFrame:
    """A tower CSV with -9999 read as missing; an absent or unparsable file is a :class:`UserError`."""
    if not path.is_file():
        raise UserError("tower file not found", file=path)
    try:
        return pd.read_csv(path, na_values=[MISSING, str(int(MISSING))])
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise UserError(f"cannot parse as CSV ({err.__class__.__name__})", file=path) from None
