"""Run-time settings read from the environment: quick mode and progress bars.

`KERASVIZ_QUICK=1` caps optimisation steps and sample counts so that notebooks
and tests run in seconds (tf-keras-vis's `TF_KERAS_VIS_MAX_STEPS` idea). The cap
lives here, in the library, so notebooks need no test-only branches.
"""

from __future__ import annotations

import os

QUICK_ENV = "KERASVIZ_QUICK"
QUICK_STEPS_ENV = "KERASVIZ_QUICK_STEPS"


def quick_mode() -> bool:
    """True when `KERASVIZ_QUICK` is set to a true value ("1", "true", "yes")."""
    return os.environ.get(QUICK_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def max_steps(steps: int, quick: int | None = None) -> int:
    """`steps`, capped in quick mode (by `KERASVIZ_QUICK_STEPS`, else `quick`, else 3)."""
    if not quick_mode():
        return int(steps)
    cap = os.environ.get(QUICK_STEPS_ENV)
    cap = int(cap) if cap else (quick if quick is not None else 3)
    return max(1, min(int(steps), cap))


# ---- progress bars ---------------------------------------------------------------------
# One implementation (`progress_bar`) for every family. A bar appears only for more than
# one chunk of work, and leaves nothing behind:
# - in a Jupyter kernel it is one display output updated in place and emptied when the work
#   ends (no widget, so a saved notebook keeps no frozen "0%" bar and no `HBox(children=...)`
#   text), and it appears only once the work has taken longer than `BAR_DELAY` seconds
#   (short work leaves no output at all);
# - inside a kerasviz widget it reports to the widget's status line (see `progress_to`);
# - elsewhere (a terminal, the CLI) it is a tqdm bar on stderr, erased when done.
import contextlib  # noqa: E402
import contextvars  # noqa: E402
import html  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402

BAR_DELAY = 0.5  # seconds of work before a notebook bar appears
_REFRESH = 0.25  # seconds between two redraws of a notebook bar

# (done, total, description) -> None; set by `progress_to` (a widget's status line).
ProgressCallback = Callable[[int, int, str], None]
_sink: contextvars.ContextVar[ProgressCallback | None] = contextvars.ContextVar("kerasviz_progress_sink", default=None)


@contextlib.contextmanager
def progress_to(callback: ProgressCallback) -> Iterator[None]:
    """Send every progress bar opened inside the block to `callback(done, total, description)`.

    Widgets use it to show the progress of a computation in their own status
    line instead of a separate output.
    """
    token = _sink.set(callback)
    try:
        yield
    finally:
        _sink.reset(token)


def progress_bar(total: int, desc: str, enabled: bool = True):
    """A progress bar for `total` chunks of work, or a silent stand-in with the same interface.

    The returned object has `update(n=1)`, `set_postfix_str(text)`, `close()`
    and works as a context manager. It is silent when `enabled` is false or
    `total <= 1` (one chunk: nothing to follow).

    Args:
        total: number of chunks of work.
        desc: what is being done ("occlusion", "top-9 conv2").
        enabled: the caller's `progress=` argument.

    Returns:
        A bar object (see above).
    """
    if not enabled or total is None or int(total) <= 1:
        return _SilentBar()
    sink = _sink.get()
    if sink is not None:
        return _CallbackBar(int(total), desc, sink)
    if _in_kernel():
        return _KernelBar(int(total), desc)
    from tqdm.std import tqdm

    return tqdm(total=int(total), desc=desc, leave=False, file=sys.stderr)  # leave=False: erased when done


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (an IPython shell with a kernel attached)."""
    if "IPython" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython half-imported
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class _SilentBar:
    """The interface of a bar, doing nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _CallbackBar(_SilentBar):
    """Reports `(done, total, description)` to a callback (a widget's status line)."""

    def __init__(self, total: int, desc: str, callback: ProgressCallback):
        self.total, self.desc, self.n, self.postfix, self._callback = total, desc, 0, "", callback
        self._callback(0, total, desc)

    def update(self, n: int = 1) -> None:
        self.n += n
        self._callback(self.n, self.total, self.desc + (f" ({self.postfix})" if self.postfix else ""))

    def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
        self.postfix = text


class _KernelBar(_SilentBar):
    """A bar in a notebook output: one display updated in place, emptied at the end.

    Nothing is displayed before `BAR_DELAY` seconds of work; redraws are at
    most every `_REFRESH` seconds. The output keeps an HTML `<progress>` and a
    plain-text line (what static views and text front-ends show while it runs).
    """

    def __init__(self, total: int, desc: str):
        self.total, self.desc, self.n, self.postfix = total, desc, 0, ""
        self.start = self._last = time.monotonic()
        self._handle = None

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.start < BAR_DELAY or (now - self._last < _REFRESH and self.n < self.total):
            return
        self._last = now
        self._draw(now - self.start)

    def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
        self.postfix = text

    def _draw(self, elapsed: float) -> None:
        from IPython.display import display
        from tqdm.std import tqdm

        text = tqdm.format_meter(self.n, self.total, elapsed, prefix=self.desc, postfix=self.postfix or None, ncols=80)
        bundle = {
            "text/plain": text,
            "text/html": f"<progress value='{self.n}' max='{self.total}' style='width:16em'></progress> "
            f"<code>{html.escape(text)}</code>",
        }
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.update({"text/plain": ""}, raw=True)  # emptied: the saved output shows nothing
            self._handle = None
