"""One self-contained HTML page: figures embedded as base64 PNG, tables inline, a few lines of
inline JavaScript for sortable tables; no external resources at all."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:0 18px 40px;
color:#222;line-height:1.45}
h1{margin-top:24px;font-size:1.6em}h2{border-bottom:2px solid #ddd;padding-bottom:3px;margin-top:34px}
.tablewrap{max-width:100%;overflow-x:auto;margin:8px 0}
table{border-collapse:collapse;font-size:0.85em}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;white-space:nowrap}td.txt{text-align:left}
th{background:#f2f2f2;white-space:normal;overflow-wrap:anywhere;vertical-align:bottom;min-width:3.5em;max-width:11em}
td:first-child,th:first-child{text-align:left}
table.sortable th{cursor:pointer;user-select:none}table.sortable th:after{content:" ⇅";color:#999;font-size:0.8em}
figure{margin:14px 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:0.9em;color:#444;margin-top:4px}
.good{color:#1b9e77;font-weight:600}.fair{color:#b58900;font-weight:600}.poor{color:#d95f02;font-weight:600}
.note{background:#fff8e1;border-left:4px solid #e6ab02;padding:6px 10px;margin:8px 0;font-size:0.9em}
.paper{background:#eef3fb}pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:0.8em;max-height:320px}
@media print{.tablewrap{overflow:visible}pre{max-height:none}}
"""

SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){
    var tb=t.tBodies[0],rows=Array.from(tb.rows),asc=th.dataset.dir!=='asc';th.dataset.dir=asc?'asc':'desc';
    function key(r){var c=r.cells[i];return c.dataset.v!==undefined?c.dataset.v:c.textContent;}
    rows.sort(function(a,b){var x=key(a),y=key(b),nx=parseFloat(x),ny=parseFloat(y);
      if(isNaN(nx)&&isNaN(ny))return asc?x.localeCompare(y):y.localeCompare(x);
      if(isNaN(nx))return 1;if(isNaN(ny))return -1;return asc?nx-ny:ny-nx;});
    rows.forEach(function(r){tb.appendChild(r);});});});});
"""


@dataclass
class Section:
    title: str
    body: str
    anchor: str


def png_bytes(fig, dpi: int = 100) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def png_data_uri(fig, dpi: int = 100) -> str:
    """A matplotlib figure as a ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(fig, dpi)).decode("ascii")


def figure_html(uri: str, caption: str, alt: str) -> str:
    return f'<figure><img src="{uri}" alt="{html.escape(alt)}"><figcaption>{caption}</figcaption></figure>'


# column-name unit suffixes -> the unit shown in the header
UNIT_SUFFIXES = {
    "_gc_m2_yr": "g C m⁻² yr⁻¹",
    "_pg_c_yr": "Pg C yr⁻¹",
    "_umol_m2_s": "µmol m⁻² s⁻¹",
    "_umol2_m4_s2": "(µmol m⁻² s⁻¹)²",
    "_mg_ha": "Mg C ha⁻¹",
    "_pct": "%",
    "_mj_m2_day": "MJ m⁻² d⁻¹",
    "_months": "months",
    "_c": "°C",
    "_km": "km",
    "_mm": "mm",
    "_m": "m",
    "_deg": "°",
    "_days": "days",
    "_s": "s",
}
SHARE_WORDS = ("share", "coverage", "fraction")


def header_label(column) -> str:
    """``total_pg_c_yr`` -> ``total (Pg C yr⁻¹)``; underscores become spaces."""
    text = str(column)
    for suffix, unit in UNIT_SUFFIXES.items():
        if text.endswith(suffix) and len(text) > len(suffix):
            return f"{text.removesuffix(suffix).replace('_', ' ')} ({unit})"
    return text.replace("_", " ")


def _column_kind(name, values: pd.Series) -> str:
    """count (whole numbers), share (0-1 named share/coverage/fraction) or number/other."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "other"
    v = pd.to_numeric(values, errors="coerce").to_numpy(float)
    v = v[np.isfinite(v)]
    if v.size and any(w in str(name).lower() for w in SHARE_WORDS) and v.min() >= 0 and v.max() <= 1:
        return "share"
    if v.size and np.all(v == np.round(v)) and np.abs(v).max() < 1e15:
        return "count"
    return "number"


def _fmt(v, digits: int, kind: str = "number") -> tuple[str, str]:
    """(display text, sort key) of one cell."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)) or v is pd.NA or v is pd.NaT:
        return "–", ""
    if isinstance(v, (bool, np.bool_)):
        return ("yes" if v else "no"), str(int(v))
    if isinstance(v, (float, np.floating)) and kind == "count":
        v = int(round(float(v)))
    if isinstance(v, (int, np.integer)):
        return f"{v:,d}".replace(",", "\u2009") if abs(v) >= 10_000 else f"{v:d}", str(v)
    if isinstance(v, (float, np.floating)):
        if kind == "share":
            return f"{100 * v:.1f} %", repr(float(v))
        a = abs(v)
        if a >= 1e5 or (0 < a < 0.5 * 10.0**-digits):
            text = f"{v:.3g}"
        else:
            text = f"{v:.{digits}f}"
        return text, repr(float(v))
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d"), v.isoformat()
    return str(v), str(v)


def table_html(
    df: pd.DataFrame,
    *,
    table_id: str | None = None,
    sortable: bool = False,
    digits: int = 3,
    class_column: str | None = None,
    row_class: Iterable[str] | None = None,
    scroll: bool = False,
) -> str:
    """A DataFrame as an escaped HTML table inside a box that scrolls sideways when wider than the
    page: headers wrap and carry the unit of the column name's suffix, whole-number columns print
    as counts, 0-1 shares as %, tiny values with 3 significant digits; numbers carry a ``data-v``
    sort key. Every row is in the page (print shows them all); ``scroll`` is kept for callers."""
    attrs = f' id="{table_id}"' if table_id else ""
    attrs += ' class="sortable"' if sortable else ""
    head = "".join(
        f'<th title="{html.escape(str(c))}">{html.escape(header_label(c)).replace("/", "/<wbr>")}</th>'
        for c in df.columns
    )
    kinds = {c: _column_kind(c, df[c]) for c in df.columns}
    rcls = list(row_class) if row_class is not None else [""] * len(df)
    body = []
    for (_, row), rc in zip(df.iterrows(), rcls):
        cells = []
        for c, v in row.items():
            text, key = _fmt(v, digits, kinds[c])
            is_text = isinstance(v, str)
            cls = f' class="{html.escape(text)}"' if c == class_column else (' class="txt"' if is_text else "")
            cells.append(f'<td data-v="{html.escape(key)}"{cls}>{html.escape(text)}</td>')
        body.append(f"<tr{f' class={chr(34)}{rc}{chr(34)}' if rc else ''}>" + "".join(cells) + "</tr>")
    out = f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return f'<div class="tablewrap">{out}</div>'


def page(title: str, intro: str, sections: list[Section]) -> str:
    toc = "".join(f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>' for s in sections)
    body = "".join(f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>{s.body}</section>' for s in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{intro}<nav><ol>{toc}</ol></nav>{body}"
        f"<script>{SORT_JS}</script></body></html>\n"
    )
