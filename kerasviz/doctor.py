"""`kerasviz doctor`: what a class needs on this machine, and how long the heavy cells take here.

Checks (each "ok", "warn" for something optional or replaceable, or "error"):
the versions, VGG16's ImageNet weights (found where, or where to put them),
MNIST, the ipywidgets front-end packages, Voila and Chromium. Then one
VGG16 (untrained) forward and forward+backward pass are timed, and the
expected time of the notebooks' heavy cells is derived from those two
figures: the network passes each cell makes (counted from its settings),
times the step time, scaled by the share of VGG16's multiply-adds the cell
runs (up to its layer, at its image size). It is a floor: optimisation
overhead (parameterization, transforms) comes on top.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

OK, WARN, ERROR = "ok", "warn", "error"


@dataclass(frozen=True)
class Check:
    status: str  # OK, WARN or ERROR
    what: str
    detail: str


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_versions() -> Check:
    import keras
    import tensorflow as tf

    return Check(
        OK,
        "versions",
        f"Python {platform.python_version()}, TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}, kerasviz {_version('kerasviz') or 'source tree'}",
    )


def check_weights() -> Check:
    from kerasviz.loaders import VGG16_FILES, VGG16_WEIGHTS_ENV, keras_home, vgg16_weights_file

    found = vgg16_weights_file(include_top=True)
    if found:
        return Check(OK, "ImageNet weights", f"{found} ({os.path.getsize(found) / 2**20:.0f} MB)")
    named = os.environ.get(VGG16_WEIGHTS_ENV)
    where = os.path.join(keras_home(), "models", VGG16_FILES[True])
    problem = f"${VGG16_WEIGHTS_ENV}={named} is not a file" if named else "not found"
    return Check(
        WARN,
        "ImageNet weights",
        f"{problem}. Copy {VGG16_FILES[True]} (528 MB, from a machine that ran "
        f"kv.load_vgg16() online) to {where}, or set ${VGG16_WEIGHTS_ENV}=/path/to/it. Without it VGG16 "
        "is untrained (seeded, and labelled so in every figure).",
    )


def check_mnist() -> Check:
    import numpy as np

    from kerasviz.loaders import MNIST_ENV, keras_home, mnist_file

    found = mnist_file()
    if not found:
        named = os.environ.get(MNIST_ENV)
        problem = f"${MNIST_ENV}={named} is not a file" if named else "not found"
        return Check(
            WARN,
            "MNIST",
            f"{problem}. Notebooks 01-06 and `kerasviz inspect --model lenet` need it: copy "
            f"mnist.npz to {os.path.join(keras_home(), 'datasets')}/ or set ${MNIST_ENV}=/path/to/file.npz "
            "(online, kv.load_mnist() downloads it once).",
        )
    try:
        with np.load(found) as data:
            keys = sorted(data.files)
            count = sum(len(data[k]) for k in keys if k.startswith("y"))
    except Exception as err:
        return Check(
            ERROR, "MNIST", f"{found} cannot be read: {type(err).__name__}: {' '.join(str(err).split())[:150]}"
        )
    if not ({"x", "y"} <= set(keys) or {"x_train", "y_train", "x_test", "y_test"} <= set(keys)):
        return Check(ERROR, "MNIST", f"{found} holds {keys}; expected x_train/y_train/x_test/y_test or x/y")
    return Check(OK, "MNIST", f"{found} ({count:,} digits)")


def check_widgets() -> Check:
    widgets, lab, notebook = _version("ipywidgets"), _version("jupyterlab_widgets"), _version("widgetsnbextension")
    if not widgets:
        return Check(ERROR, "widgets", "ipywidgets is not installed: pip install 'ipywidgets>=8'")
    fronts = [
        f"jupyterlab_widgets {lab} (JupyterLab)" if lab else "",
        f"widgetsnbextension {notebook} (Notebook)" if notebook else "",
    ]
    fronts = [f for f in fronts if f]
    if not fronts:
        return Check(
            WARN,
            "widgets",
            f"ipywidgets {widgets}, but no front-end package: widgets show as text. "
            "pip install jupyterlab_widgets (JupyterLab) or widgetsnbextension (Notebook 6)",
        )
    major = widgets.split(".")[0]
    if lab and major == "8" and not lab.startswith("3."):
        return Check(WARN, "widgets", f"ipywidgets {widgets} needs jupyterlab_widgets 3.x; found {lab}")
    return Check(OK, "widgets", f"ipywidgets {widgets}, " + ", ".join(fronts) + " (VS Code and Colab bring their own)")


def check_voila() -> Check:
    version = _version("voila")
    if version:
        return Check(
            OK, "Voila", f"voila {version}: `voila notebooks/07_explorer.ipynb` serves the Explorer as a web page"
        )
    return Check(WARN, "Voila", "not installed (optional: pip install voila, to serve the Explorer without code)")


def check_chromium() -> Check:
    found = os.environ.get("KERASVIZ_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return Check(OK, "Chromium", f"{found} (for the browser tests and screenshots)")
    return Check(WARN, "Chromium", "not found (optional: only the two browser tests use it; apt-get install chromium)")


CHECKS: tuple[Callable[[], Check], ...] = (
    check_versions,
    check_weights,
    check_mnist,
    check_widgets,
    check_voila,
    check_chromium,
)


def run_checks() -> list[Check]:
    """Every check; a check that raises is reported as an error on one line."""
    results = []
    for check in CHECKS:
        try:
            results.append(check())
        except Exception as err:
            name = check.__name__.replace("check_", "")
            results.append(Check(ERROR, name, f"{type(err).__name__}: {' '.join(str(err).split())[:200]}"))
    return results


def doctor(timing: bool = True, out=None) -> int:
    """Print the checks and (with `timing`) the step time and the table of expected times; returns the exit status.

    The status is 1 only when a check found an error (a broken install or an
    unreadable data file); missing optional things are warnings.
    """
    out = out or sys.stdout
    checks = run_checks()
    width = max(len(c.what) for c in checks)
    print("kerasviz doctor", file=out)
    for c in checks:
        print(f"  {c.status:<5} {c.what:<{width}}  {c.detail}", file=out)
    if timing:
        from kerasviz.doctor_timing import expected_times_table, measure_vgg16

        start = time.perf_counter()
        step = measure_vgg16()
        print(
            f"\nVGG16 (untrained, seed 0), one 224x224 image on this machine: forward {step.forward:.3f} s, "
            f"forward+backward {step.backward:.3f} s (measured in {time.perf_counter() - start:.1f} s; "
            f"{os.cpu_count()} CPU threads, load {_load()})",
            file=out,
        )
        print(expected_times_table(step), file=out)
    errors = [c for c in checks if c.status == ERROR]
    warnings = [c for c in checks if c.status == WARN]
    print(f"\n{len(errors)} error(s), {len(warnings)} warning(s).", file=out)
    return 1 if errors else 0


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except (OSError, AttributeError):
        return "unknown"
