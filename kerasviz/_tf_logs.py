"""Quiet TensorFlow start-up: its C++ log lines, not its errors.

Importing TensorFlow prints lines a user cannot act on (oneDNN notices, "Could
not find cuda drivers", cpu_feature_guard, absl's "All log messages before
absl::InitializeLog()" banner, then "failed call to cuInit" on a machine
without a GPU driver). Two mechanisms, neither of which overrides a setting
the user made:

- `TF_CPP_MIN_LOG_LEVEL` defaults to "2" (info and warnings off, errors on),
  set with `setdefault` before TensorFlow loads.
- The lines TensorFlow prints *before* its logging reads that level go
  straight to file descriptor 2. `quiet_import` captures fd 2 only while
  TensorFlow is imported (and its devices listed), then writes back every
  line the level would have let through, every line that is not a TensorFlow
  log line (a Python warning, a loader error), and everything at all if the
  import raised. Only lines below the level are dropped, plus the cuInit
  failure when TensorFlow itself reported that the machine has no CUDA driver.

Nothing here imports TensorFlow at module level; `kerasviz/__init__.py` calls
`quiet_defaults()` and `quiet_import()` before anything else loads it.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
DEFAULT_LEVEL = "2"  # 0 info, 1 warnings, 2 errors, 3 fatal only
# absl's prefix: severity letter, date (0000 before absl is initialised), time, thread, file:line]
_LOG_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:[\d.]+\s+\d+ [^\]]+\] ")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_CONTINUATION = re.compile(r"^To enable the following instructions:")  # the second line of cpu_feature_guard's notice
_NO_DRIVER = "Could not find cuda drivers"
_CUINIT = "failed call to cuInit"


def quiet_defaults() -> None:
    """Default `TF_CPP_MIN_LOG_LEVEL` to "2" unless the user set it."""
    os.environ.setdefault(LEVEL_ENV, DEFAULT_LEVEL)


def _level() -> int:
    try:
        return int(os.environ.get(LEVEL_ENV, "0"))
    except ValueError:
        return 0


def filter_startup_lines(text: str, level: int) -> str:
    """The start-up output with TensorFlow log lines below `level` removed.

    Args:
        text: what was written to fd 2 while TensorFlow started.
        level: the minimum severity kept (`TF_CPP_MIN_LOG_LEVEL`: 0 keeps all).

    Returns:
        The remaining text: TensorFlow lines at or above `level`, and every
        line that is not a TensorFlow log line, in their original order.
    """
    lines = text.splitlines(keepends=True)
    no_driver = any(_NO_DRIVER in line for line in lines)
    kept, dropped_previous = [], False
    for line in lines:
        match = _LOG_LINE.match(line)
        if match:
            severity = _SEVERITY[match.group(1)]
            drop = severity < level or (no_driver and _CUINIT in line and level >= 1)
        elif line.strip() == _BANNER:
            drop = level >= 1
        elif _CONTINUATION.match(line):
            drop = dropped_previous
        else:
            drop = False
        if not drop:
            kept.append(line)
        dropped_previous = drop
    return "".join(kept)


@contextlib.contextmanager
def _captured_fd2():
    """Redirect file descriptor 2 to a temporary file; yields a function returning what was written."""
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = os.dup(2)
        try:
            os.dup2(sink.fileno(), 2)
        except OSError:
            os.close(saved)
            yield None
            return
        written = {"text": ""}
        try:
            yield written
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            written["text"] = sink.read().decode("utf-8", "replace")


def quiet_import() -> None:
    """Import TensorFlow (and list its devices) with the start-up lines below the log level removed.

    Does nothing when TensorFlow is already imported or the level is 0. When
    fd 2 cannot be redirected, TensorFlow is imported as is. What is not
    dropped is written to `sys.stderr` after the import; if the import
    raises, everything captured is written back before the error propagates.
    """
    if "tensorflow" in sys.modules or _level() == 0:
        return
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    written = None
    try:
        with _captured_fd2() as written:
            import tensorflow as tf

            tf.config.list_physical_devices()  # the GPU platform's start-up line comes now, inside the capture
    except BaseException:
        if written and written["text"]:
            sys.stderr.write(written["text"])
        raise
    remaining = filter_startup_lines(written["text"], _level()) if written else ""
    if remaining:
        sys.stderr.write(remaining)
        with contextlib.suppress(Exception):
            sys.stderr.flush()
