"""soilco2: soil respiration (soil CO2 efflux) models from public data."""

__version__ = "0.1.0"
