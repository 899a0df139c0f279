"""Shared fixtures: tiny models, a probe batch, and the real MNIST digits."""

import os

import numpy as np
import pytest

from kerasviz.testing import nested_model, small_cnn


@pytest.fixture(scope="session")
def cnn():
    return small_cnn()


@pytest.fixture(scope="session")
def nested_seq():
    return nested_model(sequential=True)


@pytest.fixture(scope="session")
def nested_fn():
    return nested_model(sequential=False)


@pytest.fixture
def images():
    return np.random.default_rng(0).uniform(0, 1, (5, 16, 16, 3)).astype("float32")


@pytest.fixture(scope="session")
def mnist():
    """((x_train, y_train), (x_test, y_test)): $KERASVIZ_MNIST (set by .ci/run), Keras' cache or a download.

    Skipped, with the reason in the summary, when none of them can be had.
    """
    import kerasviz as kv

    available, why = kv.loaders.mnist_availability()
    if not available:
        pytest.skip(f"[needs real MNIST] {why}")
    return kv.load_mnist()


# --- a real browser (Debian's chromium driven by Playwright) -------------------------------
# .ci/run installs chromium and sets KERASVIZ_REQUIRE_BROWSER=1, so a missing browser fails CI
# instead of silently skipping; on a laptop without chromium the browser tests are skipped.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _no_browser(reason):
    if os.environ.get("KERASVIZ_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser test required but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium (Playwright Browser); executable from $KERASVIZ_CHROMIUM or PATH."""
    import shutil

    executable = os.environ.get("KERASVIZ_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        _no_browser("no chromium executable (apt-get install chromium, or set KERASVIZ_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            # Playwright gives every launch a fresh, empty profile of its own.
            executable_path=executable,
            args=CHROMIUM_ARGS,
            timeout=60_000,
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    """A fresh browser page with a bounded default timeout."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifact_dir():
    """Where browser tests keep screenshots ($KERASVIZ_ARTIFACTS, default ./test-artifacts)."""
    from pathlib import Path

    path = Path(os.environ.get("KERASVIZ_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path
