"""How long `python -m kerasviz inspect` takes to refuse bad arguments, from process start to exit.

    PYTHONPATH=$PWD python benchmarks/bench_cli_errors.py [--repeat 5]

Each case runs as a fresh process (what a user waits for at the prompt); the figure is the median
of `--repeat` runs, with the exit status and the one line the command printed. `--help` is the
reference: the argument checks that need no TensorFlow should answer as fast as it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def _tiny_model(folder: str) -> str:
    """A small .keras classifier, so a bad --layers is found after a model load that is not VGG16's."""
    code = (
        "import keras;"
        "i = keras.Input((32, 32, 3));"
        "x = keras.layers.Conv2D(4, 3, name='conv1')(i);"
        "x = keras.layers.GlobalAveragePooling2D()(x);"
        "keras.Model(i, keras.layers.Dense(3)(x)).save(r'%s')"
    )
    path = os.path.join(folder, "tiny.keras")
    subprocess.run(
        [sys.executable, "-c", code % path],
        check=True,
        capture_output=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    return path


def cases(folder: str) -> dict:
    model = _tiny_model(folder)
    a_file = os.path.join(folder, "a_file.txt")
    open(a_file, "w").write("x")
    return {
        "--help (reference)": ["--help"],
        "missing image file": ["inspect", os.path.join(folder, "missing.jpg")],
        "bad flag": ["inspect", "--nope"],
        "bad output path (under a file)": ["inspect", "-o", os.path.join(a_file, "report.html")],
        "output path is a directory": ["inspect", "-o", folder],
        "missing model file": ["inspect", "--model", os.path.join(folder, "missing.keras")],
        "bad --layers (own .keras model)": [
            "inspect",
            "--model",
            model,
            "--layers",
            "nope",
            "-o",
            os.path.join(folder, "r.html"),
        ],
        "bad --layers (VGG16)": ["inspect", "--layers", "nope", "-o", os.path.join(folder, "r.html")],
    }


def time_case(argv, repeat: int) -> tuple[float, int, str]:
    times, status, line = [], 0, ""
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "kerasviz", *argv], capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        status = done.returncode
        text = (done.stderr.strip() or done.stdout.strip()).splitlines()
        line = text[-1] if text else ""
    return statistics.median(times), status, line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        print(f"{'case':<34} {'median s':>9} {'exit':>5}  last line printed")
        for name, command in cases(folder).items():
            seconds, status, line = time_case(command, args.repeat)
            print(f"{name:<34} {seconds:>9.2f} {status:>5}  {line[:90]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
