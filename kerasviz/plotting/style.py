"""kerasviz's own figure defaults: `kv.style("notebook" | "slides" | "paper")`.

Every kerasviz plot function reads the current `Style` (resolution, font size,
tiles per mosaic row, colour bars on or off, figure width) and applies it to
the figures it makes only, inside a `matplotlib.rc_context`: matplotlib's global
`rcParams` are never changed, so the user's own figures are unaffected.

    kv.style("slides")            # from now on: projector-sized text, fewer and bigger tiles
    with kv.style("paper"):       # only inside the block
        kv.plot_activations(acts, "block1_conv1").savefig("fig.pdf")
    kv.style("notebook", dpi=72)  # a preset with one setting changed
    kv.style()                    # the current Style
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace

from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError
from kerasviz.core.validate import check_choice, check_int, check_positive


@dataclass(frozen=True)
class Style:
    """Figure defaults for kerasviz plots (see `kv.style`).

    Attributes:
        name: the preset it came from ("notebook", "slides", "paper").
        dpi: figure resolution (pixels per inch) on screen and in saved files.
        font_size: base font size in points; titles, labels and tile captions scale with it.
        tiles_per_row: most tiles in one row of a mosaic (activation maps, filters, feature
            visualizations); fewer, bigger tiles read better from the back of a room.
        colorbars: draw colour bars (with what the colours mean) beside maps.
        width: inches of a full-width figure.
    """

    name: str = "notebook"
    dpi: float = 100.0
    font_size: float = 10.0
    tiles_per_row: int = 16
    colorbars: bool = True
    width: float = 9.0
    _previous: Style | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        from kerasviz.core.errors import ArgumentTypeError
        from kerasviz.core.validate import check_bool, check_int, check_number

        if not isinstance(self.name, str):
            raise ArgumentTypeError(f"`name` must be a string; got {self.name!r}.")
        for setting in ("dpi", "font_size", "width"):
            check_number(getattr(self, setting), setting, minimum=0.0, strict_minimum=True)
        check_int(self.tiles_per_row, "tiles_per_row", minimum=1)
        check_bool(self.colorbars, "colorbars")

    def rc(self) -> dict:
        """The matplotlib settings this style applies to kerasviz figures (inside an `rc_context`)."""
        return {
            "figure.dpi": self.dpi,
            "savefig.dpi": "figure",
            "font.size": self.font_size,
            "axes.titlesize": "medium",
            "axes.labelsize": "medium",
            "figure.titlesize": "large",
            "xtick.labelsize": "small",
            "ytick.labelsize": "small",
            "legend.fontsize": "small",
        }

    def tile_inches(self, cols: int, most: float = 1.6) -> float:
        """Inches per tile for `cols` tiles across a full-width figure (at most `most`)."""
        return min(most, self.width / max(cols, 1))

    def text_inches(self, lines: float = 1.0) -> float:
        """Height of `lines` lines of text at this style's font size."""
        return lines * self.font_size * 1.5 / 72.0

    def panels_per_row(self) -> int:
        """Panels per row of a comparison figure (an image and its maps)."""
        return max(3, self.tiles_per_row // 3)

    # `with kv.style(...)`: the style is set by the call; leaving the block restores the one before it.
    def __enter__(self) -> Style:
        return self

    def __exit__(self, *exc) -> None:
        _current["style"] = self._previous if self._previous is not None else PRESETS["notebook"]


PRESETS = {
    "notebook": Style("notebook", dpi=100, font_size=10, tiles_per_row=16, colorbars=True, width=9.0),
    "slides": Style("slides", dpi=100, font_size=15, tiles_per_row=8, colorbars=True, width=11.0),
    "paper": Style("paper", dpi=300, font_size=8, tiles_per_row=12, colorbars=True, width=7.0),
}
# A plain module setting (not a ContextVar): a notebook kernel may run each cell in a copy of the
# context, and `kv.style("slides")` in one cell must hold for the next ones.
_current = {"style": PRESETS["notebook"]}
_SETTINGS = tuple(f.name for f in fields(Style) if f.name not in ("name", "_previous"))


def style(name: str | None = None, **settings) -> Style:
    """Set kerasviz's figure defaults; use as a plain call or as a context manager.

    Presets:
        "notebook" (default): 100 dpi, 10 pt text, up to 16 tiles per row, 9-inch figures.
        "slides": 100 dpi, 15 pt text, up to 8 (bigger) tiles per row, 11-inch figures:
            readable on a projector.
        "paper": 300 dpi, 8 pt text, up to 12 tiles per row, 7-inch figures.
    Colour bars are on in every preset.

    Only kerasviz's figures follow the style; matplotlib's global `rcParams` are not
    touched (each plot function applies the style inside an `rc_context`).

    Args:
        name: a preset; None keeps the current style (to change single settings).
        **settings: `dpi`, `font_size`, `tiles_per_row`, `colorbars`, `width`, overriding the preset.

    Returns:
        The new current `Style`. Used in a `with` block, the previous style comes back
        at the end of the block. Called with no arguments: the current style, unchanged.

    Raises:
        InvalidArgumentError: an unknown preset or setting, or an invalid value.

    Example:
        >>> kv.style("slides")                 # every later kerasviz figure: projector-sized
        >>> with kv.style("paper", dpi=600):   # only inside the block
        ...     kv.plot_filters(model, "conv1").savefig("filters.png")
    """
    previous = _current["style"]
    if name is None and not settings:
        return previous
    base = PRESETS[check_choice(name, "name", PRESETS)] if name is not None else previous
    unknown = sorted(set(settings) - set(_SETTINGS))
    if unknown:
        raise InvalidArgumentError(f"`{unknown[0]}` is not a style setting; the settings are {list(_SETTINGS)}.")
    checked = {}
    for key, value in settings.items():
        if key == "colorbars":
            if not isinstance(value, bool):
                raise ArgumentTypeError(f"`colorbars` must be True or False; got {value!r}.")
            checked[key] = value
        elif key == "tiles_per_row":
            checked[key] = check_int(value, key, minimum=1)
        else:
            checked[key] = check_positive(value, key)
    new = replace(base, **checked, _previous=previous)
    _current["style"] = new
    return new


def current_style() -> Style:
    """The `Style` kerasviz plots use now.

    Returns:
        The active `Style` (notebook defaults unless `kv.style` chose another).

    Example:
        >>> kv.current_style().dpi
    """
    return _current["style"]


def styled(plot: Callable) -> Callable:
    """Decorator for plot functions: check the settings (`core.arguments`), run with the current style."""
    import matplotlib

    from kerasviz.core.arguments import checked_arguments

    checked = checked_arguments(plot)  # settings named alike (alpha, cmap, cols, ...) checked alike

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(current_style().rc()):
            return checked(*args, **kwargs)

    return wrapper
