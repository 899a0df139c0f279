"""What every kerasviz widget shares: a status line, guarded updates, a cost budget, a static fallback.

A control changed in the browser reaches the kernel as a comm message; an
exception raised while handling it is only logged by ipywidgets (JupyterLab and
Voila show it nowhere) and the figure silently stays on the old state. So every
widget runs its computations through `ViewWidget.run` (or handlers wrapped by
`ViewWidget.guard`):

- the status line shows a spinner and the estimated time while it computes,
  and the progress of long work (`kerasviz._config.progress_to`);
- an error is shown inside the widget (type, message, traceback folded), the
  last good figure stays, and the next valid value recomputes and clears it;
- work estimated above the widget's `budget` is not started: the status line
  says what it would cost and offers a "run anyway" button;
- in a static view (GitHub, nbviewer, an HTML export) the widget shows one
  line of text instead of its `ActivationExplorer(children=(HBox(...` repr.
"""

from __future__ import annotations

import html
import time
import traceback
import warnings
from collections.abc import Callable, Iterable

import ipywidgets as W

from kerasviz._config import progress_to
from kerasviz.core.validate import check_positive
from kerasviz.widgets.budget import DEFAULT_BUDGET, Cost

# Font Awesome ships with ipywidgets 8 (JupyterLab, Notebook 7, Voila); the CSS spin
# keeps turning while the kernel is busy, which a progress value cannot do.
SPINNER = '<i class="fa fa-spinner fa-spin"></i>'
STATIC_TEXT = "{name}: an interactive kerasviz widget; run the notebook to use it."
_DONE = {"computing": "computed", "updating": "updated", "drawing": "drawn", "scanning": "scanned"}


def static_bundle(widget: W.Widget, bundle: dict | None, name: str) -> dict | None:
    """`bundle` (a widget's mime bundle) with a one-line text/plain for static views."""
    if bundle is not None:
        bundle = dict(bundle)
        bundle["text/plain"] = STATIC_TEXT.format(name=name)
    return bundle


class StatusLine(W.HTML):
    """One line of HTML: idle, busy (spinner, estimate, progress), done (timing) or failed (error).

    Attributes:
        state: "idle", "busy", "done", "failed" or "waiting" (above budget, not started).
    """

    def __init__(self, **kwargs):
        super().__init__(value="", **kwargs)
        self.state = "idle"
        self._what, self._started, self._estimate = "", 0.0, ""

    def busy(self, what: str, cost: Cost | None = None) -> None:
        self.state, self._what, self._started = "busy", what, time.perf_counter()
        self._estimate = f" ({cost})" if cost is not None else ""
        self.value = f"{SPINNER} {html.escape(what)}{html.escape(self._estimate)}…"

    def progress(self, done: int, total: int, desc: str) -> None:
        """A progress report (`kerasviz._config.progress_to` callback)."""
        elapsed = time.perf_counter() - self._started
        left = f", about {elapsed / done * (total - done):.0f} s left" if done else ""
        self.value = (
            f"{SPINNER} {html.escape(self._what)}: {html.escape(desc)} {done}/{total}"
            f" ({100 * done / max(total, 1):.0f}%{left})…"
        )

    def done(self, what: str, notes: Iterable[str] = (), verb: str = "computed") -> None:
        self.state = "done"
        estimate = f", estimated {self._estimate.strip(' ()')}" if self._estimate else ""
        took = time.perf_counter() - self._started
        text = f"<small>{html.escape(what)}: {html.escape(verb)} in {took:.1f} s{html.escape(estimate)}</small>"
        for note in notes:
            text += f"<br><small style='color:#8a5a00'>note: {html.escape(note)}</small>"
        self.value = text

    def failed(self, err: BaseException, what: str) -> None:
        self.state = "failed"
        trace = html.escape("".join(traceback.format_exception(type(err), err, err.__traceback__)))
        self.value = (
            f'<div style="color:#b00020"><b>{html.escape(what)} failed:</b> '
            f"{html.escape(type(err).__name__)}: {html.escape(str(err))}"
            "<br><small>The figure below still shows the last valid setting; change a control to try again.</small>"
            f"<details><summary>traceback</summary><pre>{trace}</pre></details></div>"
        )

    def waiting(self, cost: Cost, budget: float) -> None:
        self.state = "waiting"
        self.value = (
            f"<span style='color:#8a5a00'>Not started: {html.escape(cost.describe())}, estimated "
            f"<b>{html.escape(str(cost))}</b>, above this widget's {budget:g} s budget. "
            "Pick cheaper settings, or run it anyway.</span>"
        )


class ViewWidget(W.VBox):
    """Base class of the kerasviz widgets (see the module docstring).

    Subclasses build their controls, then call `self._setup(rows, budget)`
    with the rows of controls and outputs; the status line and the "run
    anyway" button go between them. Handlers that compute are wrapped with
    `self.guard(handler)` (or call `self.run(fn)`).

    Attributes:
        status: the `StatusLine`.
        error: the exception of the last computation, or None if it succeeded.
        budget: seconds a single interaction may take without asking.
        last_cost: the last `Cost` estimated by `within_budget`, or None.
        draws: how many times the widget showed new figures.
        last_figures: the figures it showed last (closed matplotlib Figures, still readable).

    Example:
        >>> class Histogram(ViewWidget):
        ...     widget_name = "histogram"
        ...     def __init__(self, values, *, budget=None):
        ...         self.values, self.bins, self.out = values, W.IntSlider(10, min=1, max=100), W.Output()
        ...         self.observe_controls([self.bins], self.redraw)   # errors appear in the status line
        ...         self._setup([self.bins], [self.out], budget)
        ...         self.run(self.redraw, "computing")
        ...     def redraw(self, change=None):
        ...         ...  # compute first, then clear `self.out` and show the figure; call `self.drawn(fig)`
    """

    widget_name = "kerasviz widget"

    def _setup(self, controls: Iterable[W.Widget], outputs: Iterable[W.Widget], budget: float | None = None) -> None:
        self.status = StatusLine()
        self.error: BaseException | None = None
        self.budget = DEFAULT_BUDGET if budget is None else check_positive(budget, "budget")
        self.last_cost: Cost | None = None
        self.draws, self.last_figures = 0, ()
        self._busy, self._approved, self._pending = False, False, None
        self.run_anyway = W.Button(description="run anyway", icon="play", layout=W.Layout(display="none"))
        self.run_anyway.on_click(lambda _: self._approve())
        super().__init__(list(controls) + [W.HBox([self.status, self.run_anyway])] + list(outputs))

    # ---- guarded computations -----------------------------------------------------------
    def run(self, fn: Callable[[], object], what: str = "updating", cost: Cost | None = None) -> bool:
        """Run `fn()` with the busy indicator; show an error instead of raising it.

        A call made while another guarded call runs (a handler that moves a
        slider, whose own handler fires) just runs `fn` and lets the outer call
        report. Returns True when `fn` succeeded.
        """
        if self._busy:
            fn()
            return True
        self._busy = True
        self.status.busy(f"{self.widget_name}: {what}", cost)
        caught: list = []
        try:
            # Warnings would go to the cell's stderr, outside the widget: show them in the status line.
            with progress_to(self.status.progress), warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                fn()
        except Exception as err:  # shown in the widget: the comm handler would only log it
            self.error = err
            self.status.failed(err, f"{self.widget_name}: {what}")
            return False
        else:
            if self.status.state == "busy":  # not left waiting by within_budget
                self.error = None
                self.status.done(
                    self.widget_name, dict.fromkeys(str(w.message) for w in caught), _DONE.get(what, "done")
                )
            return True
        finally:
            self._busy = False

    def drawn(self, *figures) -> None:
        """Record that `figures` were just shown (for tests and for callers reading the widget)."""
        self.draws += 1
        self.last_figures = figures

    def guard(self, handler: Callable, what: str = "updating") -> Callable:
        """`handler` (an `observe` or `on_click` callback) run through `self.run`."""

        def guarded(*args, **kwargs):
            self.run(lambda: handler(*args, **kwargs), what)

        return guarded

    def observe_controls(self, controls: Iterable[W.Widget], handler: Callable, what: str = "updating") -> None:
        """Call `handler(change)` (guarded) whenever one of `controls` changes value."""
        guarded = self.guard(handler, what)
        for control in controls:
            control.observe(guarded, names="value")
            if not getattr(control, "_kerasviz_guarded", False):
                # A value the control itself refuses (a trait error) is raised in `set_state`,
                # before any observer runs: report it here too.
                control.set_state = self._guarded_set_state(control.set_state)
                control._kerasviz_guarded = True

    def _guarded_set_state(self, set_state: Callable[[dict], None]) -> Callable[[dict], None]:
        def guarded_set_state(sync_data: dict):
            try:
                set_state(sync_data)
            except Exception as err:
                self.error = err
                self.status.failed(err, f"{self.widget_name}: updating")

        return guarded_set_state

    # ---- the budget ---------------------------------------------------------------------
    def within_budget(self, cost: Cost, rerun: Callable[[], None]) -> bool:
        """True if work estimated at `cost` may start now; else show the estimate and a "run anyway" button.

        Call it at the start of a computation: `if not self.within_budget(cost, self.redraw): return`.
        Clicking the button calls `rerun()` once with the budget lifted.
        """
        self.last_cost = cost
        approved, self._approved = self._approved, False
        if approved or cost.seconds <= self.budget:
            self.run_anyway.layout.display = "none"
            self.status.busy(f"{self.widget_name}: computing", cost)
            return True
        self._pending = rerun
        self.run_anyway.description = f"run anyway ({cost})"
        self.run_anyway.layout.display = None
        self.status.waiting(cost, self.budget)
        return False

    def _approve(self) -> None:
        pending, self._pending = self._pending, None
        self.run_anyway.layout.display = "none"
        if pending is not None:
            self._approved = True
            self.run(pending, "computing")

    # ---- static views -------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs):
        return static_bundle(self, super()._repr_mimebundle_(**kwargs), type(self).__name__)
