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


def progress_bar(total: int, desc: str, enabled: bool = True):
    """A tqdm bar (notebook-aware) or a silent stand-in with the same interface.

    Shown only when `enabled` and there is more than one chunk of work; it
    disappears when done (`leave=False`), so saved notebooks keep no frozen bar.
    """
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled or total <= 1, leave=False)
