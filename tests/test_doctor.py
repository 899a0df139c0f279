"""`kerasviz doctor`: the checks, the derived table of expected times, and the command's exit status."""

import io
import os

import numpy as np
import pytest

from kerasviz import doctor as D
from kerasviz import doctor_timing as T


def test_checks_report_what_is_missing_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("KERASVIZ_VGG16_WEIGHTS", raising=False)
    monkeypatch.delenv("KERASVIZ_MNIST", raising=False)
    out = io.StringIO()
    assert D.doctor(timing=False, out=out) == 0  # missing weights and MNIST are warnings, not errors
    text = out.getvalue()
    weights = next(line for line in text.splitlines() if "ImageNet weights" in line)
    assert weights.split()[0] == "warn"
    assert os.path.join(str(tmp_path / "keras"), "models", "vgg16_weights_tf_dim_ordering_tf_kernels.h5") in weights
    mnist = next(line for line in text.splitlines() if "MNIST" in line and "KERASVIZ_MNIST" in line)
    assert mnist.split()[0] == "warn" and os.path.join(str(tmp_path / "keras"), "datasets") in mnist
    assert "error(s)" in text.splitlines()[-1]


def test_found_files_are_ok_and_a_broken_data_file_is_an_error(tmp_path, monkeypatch):
    weights = tmp_path / "vgg16.h5"
    weights.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    digits = tmp_path / "digits.npz"
    np.savez(digits, x=np.zeros((7, 28, 28), np.uint8), y=np.arange(7))
    monkeypatch.setenv("KERASVIZ_VGG16_WEIGHTS", str(weights))
    monkeypatch.setenv("KERASVIZ_MNIST", str(digits))
    checks = {c.what: c for c in D.run_checks()}
    assert checks["ImageNet weights"].status == "ok" and str(weights) in checks["ImageNet weights"].detail
    assert checks["MNIST"].status == "ok" and "7 digits" in checks["MNIST"].detail
    digits.write_text("not an npz")
    out = io.StringIO()
    assert D.doctor(timing=False, out=out) == 1
    line = next(line for line in out.getvalue().splitlines() if "MNIST" in line)
    assert line.split()[0] == "error" and "cannot be read" in line


def test_the_expected_times_are_passes_times_the_measured_step():
    """Each row: passes counted from the cell's settings x the step time x the share of VGG16's work."""
    convs = [f"block{b}_conv{c}" for b, n in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)) for c in range(1, n + 1)]
    flops = {**{name: 10 for name in convs}, "fc1": 30, "fc2": 20, "predictions": 20}  # 130 conv + 70 dense = 200
    step = T.StepTime(forward=2.0, backward=5.0, flops=flops)
    assert T.share(step, None, 224) == 1.0
    assert T.share(step, "block1_conv2", 224) == pytest.approx(20 / 200)
    assert T.share(step, "block5_conv3", 112) == pytest.approx(130 / 200 / 4)
    assert T.share(step, None, 112) == pytest.approx((130 / 4 + 70) / 200)  # the classifier does not shrink
    rows = {w.cell: w for w in T.workloads()}
    occlusion = rows["occlusion, 56 px patches (16 + 1 passes)"]
    assert occlusion.passes(False) == 17 and occlusion.seconds(step, False) == pytest.approx(17 * 2.0)
    ig = rows["integrated gradients, 1 image, 50 steps"]
    assert ig.seconds(step, False) == pytest.approx(50 * 5.0)
    assert ig.passes(True) == 16  # integrated_gradients' quick-mode cap
    report = rows["kerasviz inspect, 4 photos (--quick: 2)"]
    assert report.passes(True) < report.passes(False)
    table = T.expected_times_table(step)
    assert "4.2 min" in table  # integrated gradients: 50 x 5 s = 250 s
    assert len([line for line in table.splitlines() if line.startswith("  ")]) == len(rows) + 1  # header + rows


def test_measure_counts_multiply_adds_and_times_a_pass():
    """On a tiny model (the real command times VGG16): positive times and the conv/dense multiply-adds."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, name="block1_conv1"),
            keras.layers.Flatten(),
            keras.layers.Dense(5, name="predictions"),
        ]
    )
    step = T.measure_vgg16(model, repeats=1)
    assert step.forward > 0 and step.backward > 0
    assert step.flops == {"block1_conv1": 6 * 6 * 3 * 3 * 3 * 4, "predictions": 6 * 6 * 4 * 5}


def test_the_command_prints_one_table_and_exits_0(capsys, monkeypatch):
    from kerasviz.cli import main

    fake = T.StepTime(0.1, 0.3, T.layer_flops(__import__("kerasviz").load_vgg16(weights=None, seed=None)))
    monkeypatch.setattr(T, "measure_vgg16", lambda: fake)
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "forward 0.100 s, forward+backward 0.300 s" in out
    assert "kerasviz inspect, 4 photos" in out and out.count("\n  cli ") == 1
