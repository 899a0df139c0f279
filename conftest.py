"""Root pytest configuration: quiet TensorFlow, quick mode, headless matplotlib, and what needs real MNIST.

Set before anything imports TensorFlow; notebook kernels started by nbval
inherit this environment, so `pytest` alone runs everything in quick mode.

A notebook needs real MNIST when its metadata says so
(`"kerasviz": {"needs": ["mnist"]}`) or, without that key, when a code cell
calls `load_mnist(` or `load_trained_lenet(`. When MNIST cannot be had
(no `$KERASVIZ_MNIST`, no Keras cache, no network), every cell of such a
notebook is skipped, as are tests using the `mnist` fixture, and the summary
says why and how to provide it. `$KERASVIZ_MNIST` naming a missing file is an
error, not a skip: it was asked for explicitly.
"""

import functools
import json
import os
import re

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERASVIZ_QUICK", "1")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("MPLBACKEND", "Agg")

MNIST_CALL = re.compile(r"\b(load_mnist|load_trained_lenet)\s*\(")
SKIP_TAG = "[needs real MNIST]"


def pytest_configure(config):
    named = os.environ.get("KERASVIZ_MNIST")
    if named and not os.path.isfile(named):
        raise pytest.UsageError(
            f"KERASVIZ_MNIST={named} is not a file: point it at an MNIST .npz, or unset it "
            "to skip the tests and notebooks that need MNIST."
        )


def pytest_collectstart(collector):
    # Notebook stderr (TF warnings, progress bars) is not part of any expected output.
    if getattr(collector, "fspath", None) is not None and str(collector.fspath).endswith(".ipynb"):
        collector.skip_compare += ("stderr",)


@functools.cache
def notebook_needs(path: str) -> frozenset:
    """What a notebook needs: its `kerasviz.needs` metadata, else "mnist" if a code cell loads MNIST."""
    with open(path, encoding="utf-8") as file:
        notebook = json.load(file)
    declared = notebook.get("metadata", {}).get("kerasviz", {}).get("needs")
    if declared is not None:
        return frozenset(declared)
    code = "\n".join("".join(c.get("source", "")) for c in notebook.get("cells", []) if c.get("cell_type") == "code")
    return frozenset({"mnist"} if MNIST_CALL.search(code) else ())


def mnist_availability() -> tuple:
    from kerasviz.loaders import mnist_availability as check

    return check()


def pytest_collection_modifyitems(config, items):
    notebooks = {str(item.fspath) for item in items if str(item.fspath).endswith(".ipynb")}
    needing = {path for path in notebooks if "mnist" in notebook_needs(path)}
    if not needing:
        return
    available, why = mnist_availability()
    if available:
        return
    skip = pytest.mark.skip(reason=f"{SKIP_TAG} {why}")
    for item in items:
        if str(item.fspath) in needing:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    skipped = terminalreporter.stats.get("skipped", [])
    reasons = [str(getattr(r, "longrepr", "")) for r in skipped]
    hits = [(r, reason) for r, reason in zip(skipped, reasons) if SKIP_TAG in reason]
    if not hits:
        return
    notebooks = {r.nodeid.split("::")[0] for r, _ in hits if ".ipynb" in r.nodeid}
    tests = [r for r, _ in hits if ".ipynb" not in r.nodeid]
    why = hits[0][1].split(SKIP_TAG, 1)[1].strip(" ')\"")
    what = []
    if notebooks:
        what.append(f"{len(notebooks)} notebook(s) ({', '.join(sorted(os.path.basename(n) for n in notebooks))})")
    if tests:
        what.append(f"{len(tests)} test(s)")
    terminalreporter.write_sep("=", "skipped for lack of real MNIST", yellow=True)
    terminalreporter.write_line(f"{' and '.join(what)} skipped: {why}")
