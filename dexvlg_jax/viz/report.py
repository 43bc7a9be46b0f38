"""A self-contained HTML report: sections of metric tables, pictures (embedded as base64) and notes.

    report = Report("DexVLG demo")
    report.section("Dataset quality").table(rows, columns).image("grasps.png", caption="...")
    report.write("demo_out/report.html")
"""
import base64
import datetime
import html
import os

from dexvlg_jax import atomic_io


class Report:
    """Build an HTML page section by section; `write` embeds every image so the file stands alone."""

    def __init__(self, title: str):
        self.title = title
        self._parts: list[str] = []

    def section(self, heading: str, text: str = "") -> "Report":
        self._parts.append(f"<h2>{html.escape(heading)}</h2>")
        if text:
            self._parts.append(f"<p>{html.escape(text)}</p>")
        return self

    def text(self, text: str) -> "Report":
        self._parts.append(f"<p>{html.escape(text)}</p>")
        return self

    def table(self, rows: list[dict], columns: list[str] | None = None, digits: int = 3) -> "Report":
        """Rows of dicts -> an HTML table; floats are rounded to `digits`."""
        if not rows:
            self._parts.append("<p><em>(no rows)</em></p>")
            return self
        columns = columns or list(rows[0].keys())
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_fmt(row.get(c, ''), digits))}</td>" for c in columns) + "</tr>"
            for row in rows)
        self._parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        return self

    def image(self, path: str, caption: str = "", width: int | None = None) -> "Report":
        """Embed a PNG file (base64) with a caption; a missing file is reported in the page, not raised."""
        if not os.path.exists(path):
            self._parts.append(f"<p><em>missing picture: {html.escape(path)}</em></p>")
            return self
        with open(path, "rb") as f:
            data = base64.b64encode(f.read()).decode()
        style = f' style="width:{width}px"' if width else ""
        self._parts.append(f'<figure><img src="data:image/png;base64,{data}"{style} alt="{html.escape(caption)}">'
                           f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        return self

    def write(self, path: str) -> str:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                f"<style>{_CSS}</style></head><body><h1>{html.escape(self.title)}</h1>"
                f"<p class='stamp'>generated {stamp}</p>{''.join(self._parts)}</body></html>")
        return atomic_io.write_text(path, page)


def _fmt(value, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { border-bottom: 2px solid #446; } h2 { margin-top: 1.6em; color: #335; }
table { border-collapse: collapse; margin: 0.6em 0; } th, td { border: 1px solid #bbb; padding: 4px 10px; }
th { background: #eef; } td { text-align: right; } td:first-child { text-align: left; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; } img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; color: #555; } .stamp { color: #888; font-size: 0.8em; }
"""
