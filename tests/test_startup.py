"""A fresh `import kerasviz` and a fresh notebook kernel print nothing on stderr; the command answers fast.

TensorFlow's start-up lines are dropped below the log level, real errors
still show, a user's own `TF_CPP_MIN_LOG_LEVEL` is kept, and `kerasviz --help`
or an argument error never imports TensorFlow. Each test starts a fresh
process; the environment is the user's, without what the root conftest sets.
"""

import os
import subprocess
import sys

import pytest

from kerasviz._tf_logs import filter_startup_lines, quiet_defaults

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 300
STARTUP = """WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796030705.166313    6630 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results.
I0000 00:00:1796030705.166626    6630 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796030705.204212    6630 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
W0000 00:00:1796030705.3 6630 some.cc:1] a warning
E0000 00:00:1796030719.732235    7405 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
E0000 00:00:1796030719.8 7405 loader.cc:9] could not load libfoo.so: a real error
a Python warning written to stderr
"""


def user_env(**extra):
    """The environment a user has: no quick mode or TF settings from the root conftest."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "KERASVIZ_QUICK", "PYTHONPATH")
    }
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))
    env.update(extra)
    return env


def run(args, **env):
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=TIMEOUT, env=user_env(**env), cwd=ROOT
    )


def test_filter_keeps_errors_and_drops_what_the_level_hides():
    kept = filter_startup_lines(STARTUP, 2)
    assert "real error" in kept and "a Python warning" in kept  # errors and non-TensorFlow lines stay
    for noise in (
        "absl::InitializeLog",
        "oneDNN",
        "cuda drivers",
        "cpu_feature_guard",
        "To enable",
        "a warning",
        "cuInit",
    ):
        assert noise not in kept, noise
    everything = filter_startup_lines(STARTUP, 0)
    assert everything == STARTUP  # level 0: the user asked for every line
    without_driver_line = STARTUP.replace("Could not find cuda drivers", "something else")
    assert "cuInit" in filter_startup_lines(without_driver_line, 2)  # a GPU machine's cuInit failure is an error


def test_a_users_log_level_is_kept(monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    quiet_defaults()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    quiet_defaults()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"


def test_import_kerasviz_prints_nothing_on_stderr():
    result = run(["-c", "import kerasviz as kv; kv.lenet()(__import__('numpy').zeros((1, 28, 28, 1)))"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == "", result.stderr


SCANS = """
import kerasviz as kv, numpy as np, keras
x = np.random.default_rng(0).random((20, 16, 16, 3), dtype=np.float32)
m = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, name="c"), keras.layers.ReLU(),
                      keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)])
kv.top_activating(m, "c", x, k=3, progress=False)
kv.relevance_maximization(m, "c", x, k=3, target=0, progress=False)
"""


def test_dataset_scans_print_nothing_on_stderr():
    # With oneDNN on (the default), an integer transpose in a graph logs an error-level notice.
    result = run(["-c", SCANS], TF_ENABLE_ONEDNN_OPTS="1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == "", result.stderr


def test_an_import_error_still_shows(tmp_path):
    """A TensorFlow that fails to load: its own stderr line and the Python traceback both reach the user."""
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "import os\nos.write(2, b'E0000 00:00:1.0 1 loader.cc:1] libtensorflow is broken\\n')\n"
        "raise ImportError('simulated broken install')\n"
    )
    result = run(["-c", "import kerasviz"], PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
    assert result.returncode == 1
    assert "libtensorflow is broken" in result.stderr
    assert "Traceback" in result.stderr and "ImportError: simulated broken install" in result.stderr


def test_help_and_argument_errors_answer_without_tensorflow(tmp_path):
    """`-X importtime` lists every module imported: TensorFlow must not be among them."""
    text = tmp_path / "photo.jpg"
    text.write_text("not a photo")
    helped = run(["-X", "importtime", "-m", "kerasviz", "inspect", "--help"])
    assert helped.returncode == 0 and "--preprocess" in helped.stdout
    failed = run(["-X", "importtime", "-m", "kerasviz", "inspect", str(text), "-o", str(tmp_path / "r.html")])
    assert failed.returncode == 1
    errors = [line for line in failed.stderr.splitlines() if not line.startswith("import time:")]
    assert errors == [
        f"kerasviz inspect: error: cannot read image {str(text)!r}: it is a text file, not an image "
        "(it starts with 'not a photo')"
    ], errors
    for result in (helped, failed):
        imported = [
            line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
        ]
        assert "argparse" in imported and not any(name.startswith("tensorflow") for name in imported)


def test_a_fresh_kernels_first_cell_has_no_stderr():
    """The first cell of a new Jupyter kernel: `import kerasviz` and a forward pass, and no stream on stderr."""
    jupyter_client = pytest.importorskip("jupyter_client")
    manager = jupyter_client.KernelManager(kernel_name="python3")
    manager.start_kernel(env=user_env(), cwd=ROOT)
    client = manager.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=TIMEOUT)
        streams = {"stdout": "", "stderr": ""}
        errors = []

        def collect(message):
            kind, content = message["header"]["msg_type"], message["content"]
            if kind == "stream":
                streams[content["name"]] += content["text"]
            elif kind == "error":
                errors.append(content["ename"] + ": " + content["evalue"])

        code = (
            "import sys, kerasviz as kv, numpy as np\n"
            f"print(sys.executable == {sys.executable!r}, kv.lenet()(np.zeros((1, 28, 28, 1))).shape)"
        )
        reply = client.execute_interactive(code, timeout=TIMEOUT, output_hook=collect)
        assert reply["content"]["status"] == "ok", errors
        assert streams["stdout"].strip() == "True (1, 10)", streams
        assert streams["stderr"] == "", streams["stderr"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
