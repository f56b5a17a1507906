"""Check an HTML page in a real headless Chromium via chromedriver's W3C WebDriver protocol.

Only ``requests`` is needed (no Selenium, nothing downloaded): we start ``chromedriver`` on a free
local port, open the page, read the browser console log, evaluate a few expressions and take a
screenshot.
"""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1600",
]

PAGE_PROBE = """
var imgs = Array.from(document.images);
var t = document.getElementById(arguments[0]);
return {
  title: document.title,
  ready: document.readyState,
  n_images: imgs.length,
  broken_images: imgs.filter(function(i){return !(i.complete && i.naturalWidth > 0);}).map(function(i){return i.alt;}),
  table_rows: t ? t.tBodies[0].rows.length : -1,
  first_cells: t ? Array.from(t.tBodies[0].rows).map(function(r){return r.cells[0].textContent;}) : [],
  clipped_headers: Array.from(document.querySelectorAll('th')).filter(function(h){
    return h.scrollWidth > h.clientWidth + 1 || h.scrollHeight > h.clientHeight + 1;}).map(function(h){return h.textContent;}),
  page_width: document.documentElement.scrollWidth,
  n_tables: document.querySelectorAll('table').length
};
"""


@dataclass
class PageCheck:
    title: str
    n_images: int
    broken_images: list[str]
    table_rows: int
    first_cells: list[str]
    clipped_headers: list[str] = field(default_factory=list)
    page_width: int = 0  # the document's scroll width in a 1,280 px wide window
    n_tables: int = 0
    console_errors: list[str] = field(default_factory=list)
    console_all: list[str] = field(default_factory=list)
    sorted_first_cells: list[str] = field(default_factory=list)


def find_executable(*names: str) -> str | None:
    for n in names:
        p = shutil.which(n) or (n if Path(n).is_file() else None)
        if p:
            return p
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    """The few WebDriver commands we need, over HTTP to a local chromedriver."""

    def __init__(self, chromedriver: str, chromium: str, timeout_s: float = 30.0):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.profile = tempfile.mkdtemp(prefix="soilco2-chromium-")
        self.proc = subprocess.Popen(
            [chromedriver, f"--port={self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.timeout = timeout_s
        deadline = time.time() + timeout_s
        while True:
            try:
                if requests.get(f"{self.base}/status", timeout=2).json()["value"].get("ready"):
                    break
            except (requests.RequestException, ValueError, KeyError):
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromedriver did not start")
            time.sleep(0.1)
        caps = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": chromium,
                        "args": CHROMIUM_ARGS + [f"--user-data-dir={self.profile}"],
                    },
                    "goog:loggingPrefs": {"browser": "ALL"},
                }
            }
        }
        try:
            self.session = self._call("POST", "/session", caps)["sessionId"]
        except Exception:
            self.close()
            raise

    def _call(self, method: str, path: str, body: dict | None = None):
        r = requests.request(method, self.base + path, json=body, timeout=self.timeout)
        value = r.json().get("value")
        if r.status_code != 200:
            raise RuntimeError(f"WebDriver {method} {path}: {value}")
        return value

    def cmd(self, method: str, path: str, body: dict | None = None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def close(self) -> None:
        try:
            if getattr(self, "session", None):
                self._call("DELETE", f"/session/{self.session}")
        except Exception:  # noqa: BLE001 — best effort on teardown
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def check_page(
    index: Path,
    screenshot: Path | None = None,
    table_id: str = "site-table",
    chromium: str | None = None,
    chromedriver: str | None = None,
) -> PageCheck:
    """Open ``index`` headless; return images/table/console facts; optionally save a PNG screenshot.

    Also clicks the table's first header twice to check that sorting reorders the rows.
    """
    chromium = chromium or find_executable("/usr/bin/chromium", "chromium", "chromium-browser")
    chromedriver = chromedriver or find_executable("/usr/bin/chromedriver", "chromedriver")
    if not chromium or not chromedriver:
        raise FileNotFoundError("chromium and chromedriver are needed (scripts/ensure-chromium.sh installs them)")
    wd = WebDriver(chromedriver, chromium)
    try:
        wd.cmd("POST", "/url", {"url": Path(index).resolve().as_uri()})
        for _ in range(100):
            probe = wd.cmd("POST", "/execute/sync", {"script": PAGE_PROBE, "args": [table_id]})
            if probe["ready"] == "complete" and not probe["broken_images"]:
                break
            time.sleep(0.1)
        sorted_cells: list[str] = []
        if probe["table_rows"] > 0:
            sorted_cells = wd.cmd(
                "POST",
                "/execute/sync",
                {
                    "script": (
                        "var t=document.getElementById(arguments[0]);var th=t.tHead.rows[0].cells[0];th.click();th.click();"
                        "return Array.from(t.tBodies[0].rows).map(function(r){return r.cells[0].textContent;});"
                    ),
                    "args": [table_id],
                },
            )
        if screenshot is not None:
            png = wd.cmd("GET", "/screenshot")
            Path(screenshot).write_bytes(base64.b64decode(png))
        logs = wd.cmd("POST", "/se/log", {"type": "browser"}) or []
    finally:
        wd.close()
    return PageCheck(
        title=probe["title"],
        n_images=probe["n_images"],
        broken_images=probe["broken_images"],
        table_rows=probe["table_rows"],
        first_cells=probe["first_cells"],
        clipped_headers=probe["clipped_headers"],
        page_width=probe["page_width"],
        n_tables=probe["n_tables"],
        console_errors=[e["message"] for e in logs if e.get("level") == "SEVERE"],
        console_all=[f"{e.get('level')}: {e.get('message')}" for e in logs],
        sorted_first_cells=sorted_cells,
    )
