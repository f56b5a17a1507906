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
table{border-collapse:collapse;font-size:0.85em;margin:8px 0}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;white-space:nowrap}td.txt{text-align:left}
th{background:#f2f2f2;position:sticky;top:0}
td:first-child,th:first-child{text-align:left}
table.sortable th{cursor:pointer;user-select:none}table.sortable th:after{content:" ⇅";color:#999;font-size:0.8em}
.scroll{max-height:520px;overflow:auto;border:1px solid #ddd}
figure{margin:14px 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:0.9em;color:#444;margin-top:4px}
.good{color:#1b9e77;font-weight:600}.fair{color:#b58900;font-weight:600}.poor{color:#d95f02;font-weight:600}
.note{background:#fff8e1;border-left:4px solid #e6ab02;padding:6px 10px;margin:8px 0;font-size:0.9em}
.paper{background:#eef3fb}pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:0.8em;max-height:320px}
th{white-space:normal;vertical-align:bottom;max-width:9em}
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


def _fmt(v, digits: int) -> tuple[str, str]:
    """(display text, sort key) of one cell."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)) or v is pd.NA or v is pd.NaT:
        return "–", ""
    if isinstance(v, (bool, np.bool_)):
        return ("yes" if v else "no"), str(int(v))
    if isinstance(v, (int, np.integer)):
        return f"{v:d}", str(v)
    if isinstance(v, (float, np.floating)):
        text = f"{v:.{digits}f}" if abs(v) < 1e5 else f"{v:.3g}"
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
    """A DataFrame as an escaped HTML table; numbers carry a ``data-v`` sort key."""
    attrs = f' id="{table_id}"' if table_id else ""
    attrs += ' class="sortable"' if sortable else ""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rcls = list(row_class) if row_class is not None else [""] * len(df)
    body = []
    for (_, row), rc in zip(df.iterrows(), rcls):
        cells = []
        for c, v in row.items():
            text, key = _fmt(v, digits)
            is_text = isinstance(v, str)
            cls = f' class="{html.escape(text)}"' if c == class_column else (' class="txt"' if is_text else "")
            cells.append(f'<td data-v="{html.escape(key)}"{cls}>{html.escape(text)}</td>')
        body.append(f"<tr{f' class={chr(34)}{rc}{chr(34)}' if rc else ''}>" + "".join(cells) + "</tr>")
    out = f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return f'<div class="scroll">{out}</div>' if scroll else out


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
