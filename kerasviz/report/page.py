"""One self-contained HTML page: inline CSS, figures as base64 PNG data URIs.

Nothing here knows about models; sections hand over HTML fragments and
matplotlib figures, and the page needs no network to display.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from kerasviz.plotting.export import figure_png

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 0 24px 48px; color: #222; line-height: 1.45; }
header { border-bottom: 2px solid #ddd; margin-bottom: 12px; }
h1 { margin-bottom: 4px; } h2 { margin-top: 36px; border-bottom: 1px solid #eee; }
nav a { margin-right: 14px; }
.meta { color: #555; font-size: 0.92em; }
.weights { display: inline-block; padding: 2px 8px; border-radius: 4px; background: #e6f2e6; }
.weights.is-untrained { background: #fde8e8; color: #922; font-weight: 600; }
.figures { display: flex; flex-wrap: wrap; gap: 0 18px; align-items: flex-start; }
.untrained { display: block; background: #fde8e8; border: 2px solid #c0392b; color: #922; padding: 10px 14px;
             font-size: 1.15em; font-weight: 600; margin: 12px 0; border-radius: 6px; }
.error { background: #fff3cd; border: 1px solid #d39e00; padding: 8px 12px; border-radius: 4px;
         font-family: ui-monospace, monospace; white-space: pre-wrap; }
.note { color: #555; font-size: 0.92em; }
figure { margin: 12px 0 20px; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
summary { cursor: pointer; color: #2a5db0; }
pre { background: #f7f7f7; padding: 10px; overflow-x: auto; font-size: 0.8em; line-height: 1.2; }
table { border-collapse: collapse; margin: 8px 0 16px; } td, th { border: 1px solid #ddd; padding: 4px 10px; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.thumb { width: 96px; height: auto; image-rendering: auto; }
"""


def escape(text) -> str:
    """HTML-escape any value's text."""
    return html.escape(str(text))


def png_data_uri(figure, dpi: int = 90) -> str:
    """A matplotlib Figure as a `data:image/png;base64,...` URI (the figure is closed)."""
    return "data:image/png;base64," + base64.b64encode(figure_png(figure, dpi)).decode("ascii")


def array_data_uri(image: np.ndarray) -> str:
    """A uint8 image `(H, W)` / `(H, W, 3)` as a PNG data URI (thumbnails, no axes)."""
    import matplotlib.image

    buffer = io.BytesIO()
    image = np.asarray(image)
    matplotlib.image.imsave(buffer, image, format="png", cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def figure_html(figure, caption: str = "", dpi: int = 90) -> str:
    """`<figure>` with the image inline and an optional caption."""
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{png_data_uri(figure, dpi)}" alt="{escape(caption or "figure")}">{cap}</figure>'


def table_html(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table; cells are HTML already (escape text before). An empty header draws no header row."""
    head = "".join(f"<th>{h}</th>" for h in header)
    head = f"<tr>{head}</tr>" if any(header) else ""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def figures_html(figures: Sequence[str]) -> str:
    """Several `figure_html` fragments side by side, wrapping on narrow screens."""
    return '<div class="figures">' + "".join(figures) + "</div>"


@dataclass
class Section:
    """One report section: `id` (e.g. "section-activations"), title, HTML body."""

    id: str
    title: str
    body: str = ""
    error: str = ""
    seconds: float = 0.0

    def html(self) -> str:
        body = f'<div class="error">This section failed: {escape(self.error)}</div>' if self.error else self.body
        state = "failed" if self.error else "ok"
        return (
            f'<section id="{self.id}" class="section" data-state="{state}">'
            f"<h2>{escape(self.title)}</h2>{body}"
            f'<p class="note">computed in {self.seconds:.1f} s</p></section>'
        )


@dataclass
class Page:
    """The whole report: a header (title, weights label, run notes) and sections."""

    title: str
    weights: str
    untrained: bool
    notes: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def html(self) -> str:
        warning = (
            (
                '<p class="untrained">UNTRAINED network (random weights): the predictions and pictures below show '
                "the architecture, not anything learned. Provide ImageNet weights (see the README) for real "
                "results.</p>"
            )
            if self.untrained
            else ""
        )
        nav = "".join(f'<a href="#{s.id}">{escape(s.title)}</a>' for s in self.sections)
        notes = "".join(f"<li>{escape(n)}</li>" for n in self.notes)
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(self.title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{escape(self.title)}</h1>"
            f'<p>weights: <span class="weights{" is-untrained" if self.untrained else ""}" id="weights-label">{escape(self.weights)}</span></p>{warning}'
            f'<ul class="meta">{notes}</ul><nav>{nav}</nav></header>'
            + "".join(s.html() for s in self.sections)
            + "</body></html>\n"
        )
