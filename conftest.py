"""Root pytest configuration: quiet TensorFlow, quick mode, headless matplotlib.

Set before anything imports TensorFlow; notebook kernels started by nbval
inherit this environment, so `pytest` alone runs everything in quick mode.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERASVIZ_QUICK", "1")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collectstart(collector):
    # Notebook stderr (TF warnings, progress bars) is not part of any expected output.
    if getattr(collector, "fspath", None) is not None and str(collector.fspath).endswith(".ipynb"):
        collector.skip_compare += ("stderr",)
