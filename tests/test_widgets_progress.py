"""Progress bars: shown only for more than one chunk, updated in place, and nothing left in a saved notebook."""

import json
import sys

from kerasviz import _config
from kerasviz._config import progress_bar, progress_to


def test_one_chunk_or_disabled_is_silent(monkeypatch):
    monkeypatch.setattr(_config, "_in_kernel", lambda: True)
    calls = []
    with progress_to(lambda *a: calls.append(a)):
        for bar in (progress_bar(1, "one chunk"), progress_bar(0, "nothing"), progress_bar(5, "off", enabled=False)):
            with bar:
                bar.update(1)
    assert calls == []


def test_a_widget_sink_receives_the_progress():
    calls = []
    with progress_to(lambda *a: calls.append(a)):
        with progress_bar(3, "scan") as bar:
            bar.set_postfix_str("conv2")
            bar.update(2)
    assert calls == [(0, 3, "scan"), (2, 3, "scan (conv2)")]
    with progress_bar(3, "after the block", enabled=True) as bar:  # the sink is gone again
        assert not isinstance(bar, _config._CallbackBar)


def test_kernel_bar_updates_one_display_in_place_and_empties_it(monkeypatch):
    import IPython.display

    shown = []

    class Handle:
        def update(self, bundle, raw=False):
            shown.append(("update", bundle))

    def display(bundle, raw=False, display_id=False):
        shown.append(("display", bundle))
        return Handle()

    monkeypatch.setattr(IPython.display, "display", display)
    monkeypatch.setattr(_config, "_in_kernel", lambda: True)
    monkeypatch.setattr(_config, "BAR_DELAY", 0.0)
    monkeypatch.setattr(_config, "_REFRESH", 0.0)
    with progress_bar(4, "occlusion") as bar:
        for _ in range(4):
            bar.update(1)
    kinds = [kind for kind, _ in shown]
    assert kinds == ["display", "update", "update", "update", "update"]  # one output, updated in place
    assert "<progress value='2' max='4'" in shown[1][1]["text/html"] and "2/4" in shown[1][1]["text/plain"]
    assert shown[-1][1] == {"text/plain": ""}  # emptied at the end


def test_kernel_bar_for_short_work_displays_nothing(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append(a))
    monkeypatch.setattr(_config, "_in_kernel", lambda: True)
    with progress_bar(50, "quick") as bar:  # far below BAR_DELAY
        for _ in range(50):
            bar.update(1)
    assert shown == []


def test_outside_a_kernel_the_bar_is_tqdm_on_stderr_erased_when_done():
    bar = progress_bar(5, "terminal")
    assert type(bar).__name__ == "tqdm" and not bar.leave and not bar.disable
    bar.close()
    assert type(progress_bar(1, "one chunk")).__name__ == "_SilentBar"
    bar.close()


def test_saved_notebook_keeps_no_bar(tmp_path, monkeypatch):
    """Execute a notebook in a real kernel (nbclient) and read what would be saved."""
    import nbclient
    import nbformat

    kernels = tmp_path / "jupyter" / "kernels" / "python3"
    kernels.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "this test's interpreter",
        "language": "python",
    }
    (kernels / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    # The module under test, loaded on its own (no TensorFlow import: the kernel starts in a second).
    cells = [
        "import importlib.util, time\n"
        f"spec = importlib.util.spec_from_file_location('progress_config', {_config.__file__!r})\n"
        "c = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(c)\nc.BAR_DELAY = 0.05\nprint(c.__file__)",
        "with c.progress_bar(6, 'long work') as bar:\n    for _ in range(6):\n        time.sleep(0.1)\n        bar.update(1)\nprint('done')",
        "with c.progress_bar(6, 'short work') as bar:\n    for _ in range(6):\n        bar.update(1)",
        "with c.progress_bar(1, 'one chunk') as bar:\n    time.sleep(0.2)\n    bar.update(1)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=120, startup_timeout=120, kernel_name="python3").execute()
    assert nb.cells[0].outputs[0]["text"].strip() == _config.__file__
    long_work = [o for o in nb.cells[1].outputs if o["output_type"] == "display_data"]
    assert long_work and all(o["data"] == {"text/plain": ""} for o in long_work)  # shown, then emptied
    assert [o["text"] for o in nb.cells[1].outputs if o["output_type"] == "stream" and o["name"] == "stdout"] == [
        "done\n"
    ]
    for cell in nb.cells[2:]:
        assert not [o for o in cell.outputs if o["output_type"] == "display_data"]
    saved = json.dumps([cell.outputs for cell in nb.cells])
    for frozen in ("%|", "HBox", "IProgress", "long work"):
        assert frozen not in saved
