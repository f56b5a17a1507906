"""`soilco2 daily report RUN` (diagnostics and the HTML report) — filled in by the report part."""
