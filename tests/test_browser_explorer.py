"""The Explorer served by Voila and driven in headless Chromium: changing the layer changes the picture.

The test writes a tiny app notebook, serves it with `python -m voila` on 127.0.0.1 at a
free port (the kernel runs this very Python: a private `python3` kernelspec pointing at
`sys.executable` comes first on JUPYTER_PATH), opens it with Playwright, waits for the
Activations tab's figure, picks another layer in its dropdown and waits for the figure to
change. A screenshot is kept in the artifact folder. Every wait is bounded by one deadline,
and the server and its kernels are always stopped.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import nbformat
import pytest

BUDGET = 180.0  # seconds for the whole test, server start included
STARTUP = 60.0  # seconds for Voila to listen

APP_CELLS = [
    nbformat.v4.new_markdown_cell("# kerasviz Explorer (browser test app)"),
    nbformat.v4.new_code_cell(
        "import sys\n"
        "import numpy as np\n"
        "import kerasviz as kv\n"
        "from kerasviz.testing import small_cnn\n"
        "print('kernel python:', sys.executable)"
    ),
    nbformat.v4.new_code_cell(
        "model = small_cnn(input_shape=(32, 32, 3))\n"
        "photos = np.stack([kv.sample_image(name, size=32) for name in ('cat', 'coffee', 'astronaut')])\n"
        "kv.widgets.Explorer(model, photos / 255.0, display=photos)"
    ),
]


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self, cap=None) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            pytest.fail(f"the browser test ran over its {BUDGET:.0f} s budget")
        return min(left, cap) if cap else left

    def ms(self, cap=None) -> float:
        return 1000 * self.left(cap)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_app(folder) -> str:
    kernels = folder / "jupyter" / "kernels" / "python3"
    kernels.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (this test's interpreter)",
        "language": "python",
    }
    (kernels / "kernel.json").write_text(json.dumps(spec))
    nb = nbformat.v4.new_notebook(cells=APP_CELLS)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": spec["display_name"], "language": "python"}
    nbformat.write(nb, folder / "explorer_app.ipynb")
    return "explorer_app.ipynb"


def server_env(folder) -> dict:
    env = dict(os.environ)
    env["MPLBACKEND"] = "Agg"  # widgets render their own PNGs, so even a non-inline backend shows figures
    env.update(
        KERASVIZ_QUICK="1",
        TF_CPP_MIN_LOG_LEVEL="3",
        TF_ENABLE_ONEDNN_OPTS="0",
        CUDA_VISIBLE_DEVICES="-1",
        JUPYTER_PATH=os.pathsep.join(filter(None, [str(folder / "jupyter"), env.get("JUPYTER_PATH")])),
        JUPYTER_CONFIG_DIR=str(folder / "config"),
        JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
        PYTHONUNBUFFERED="1",
    )
    return env


def stop(process: subprocess.Popen):
    """Stop Voila and the kernels it started (they run in sessions of their own)."""
    import psutil

    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # Voila shuts its kernels down on SIGINT / SIGTERM
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(children, timeout=5)


@pytest.fixture
def voila_app(tmp_path):
    """URL of the app served by Voila; the server and its kernels are stopped afterwards."""
    notebook, port = write_app(tmp_path), free_port()
    log = open(tmp_path / "voila.log", "w+")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voila",
            notebook,
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--show_tracebacks=True",
        ],
        cwd=tmp_path,
        env=server_env(tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        start = time.monotonic()
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"voila exited with {process.returncode}:\n{log.read()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() - start > STARTUP:
                    pytest.fail(f"voila did not listen on port {port} within {STARTUP:.0f} s")
                time.sleep(0.25)
        yield f"http://127.0.0.1:{port}/", tmp_path / "voila.log"
    finally:
        stop(process)
        log.close()


def figure_sources(page) -> list:
    return page.eval_on_selector_all(".widget-output img", "els => els.map(e => e.src)")


def test_layer_change_redraws_activations_in_the_browser(voila_app, page, artifact_dir):
    url, log = voila_app
    try:
        drive(page, url, artifact_dir)
    except Exception:
        page.screenshot(path=str(artifact_dir / "explorer-failure.png"), full_page=True)
        print("voila log (tail):\n" + log.read_text()[-4000:])  # shown by pytest on failure
        raise
    assert "Traceback" not in log.read_text()


def drive(page, url, artifact_dir):
    deadline = Deadline(BUDGET)
    page.goto(url, timeout=deadline.ms(120))
    page.get_by_text(f"kernel python: {sys.executable}").wait_for(timeout=deadline.ms())  # the kernel runs our Python
    images = page.locator(".widget-output img")
    images.first.wait_for(timeout=deadline.ms())
    assert images.first.get_attribute("src").startswith("data:image/png;base64,")
    assert "Activations: computed in" in page.inner_text("body")
    before = figure_sources(page)
    layer = page.locator(".widget-dropdown select").first
    assert layer.input_value() == "conv1"
    layer.select_option("conv2")
    page.wait_for_function(
        "old => { const now = [...document.querySelectorAll('.widget-output img')].map(e => e.src);"
        " return now.length > 0 && now.some(src => !old.includes(src)); }",
        arg=before,
        timeout=deadline.ms(),
    )
    page.get_by_text("activations: updated in").wait_for(timeout=deadline.ms())  # both outputs redrawn
    after = figure_sources(page)
    assert after and len(after) == len(before) and all(src not in before for src in after)
    page.screenshot(path=str(artifact_dir / "explorer.png"), full_page=True)
