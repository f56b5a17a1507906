"""A page of a run as a reader sees it: headless Chromium in a 1,280 px wide window."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

WINDOW_PX = 1280


def browser_available() -> bool:
    from soilco2.report.browser import find_executable

    return bool(find_executable("/usr/bin/chromium", "chromium", "chromium-browser")) and bool(
        find_executable("/usr/bin/chromedriver", "chromedriver")
    )


def require_browser() -> None:
    if not browser_available():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("chromium/chromedriver missing in CI (run scripts/ensure-chromium.sh)")
        pytest.skip("chromium/chromedriver not installed")


def assert_page_reads_well(index: Path, table_id: str = "none", **kw):
    """No console error, every image decodes, no table header clipped, the body fits the window."""
    from soilco2.report.browser import check_page

    require_browser()
    res = check_page(index, table_id=table_id, **kw)
    assert res.console_errors == [], res.console_all
    assert res.broken_images == []
    assert res.clipped_headers == [], res.clipped_headers
    assert res.page_width <= WINDOW_PX, res.page_width
    return res
