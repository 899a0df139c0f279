"""`kerasviz inspect` and `kv.inspect_report`: the command end to end, its errors, and the report in a browser.

The command runs in a subprocess (`python -m kerasviz inspect ...`) in quick
mode, as a user would run it; every subprocess has a timeout.
"""

import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest

from kerasviz.report import inspect_report, sections
from kerasviz.testing import nested_model, unchanged

SECTIONS = [
    "section-model",
    "section-prediction",
    "section-activations",
    "section-weights",
    "section-featurevis",
    "section-attribution",
]
TIMEOUT = 300  # seconds per command; quick VGG16 takes well under a minute on idle cores


def command(*args):
    return [sys.executable, "-m", "kerasviz", "inspect", *map(str, args)]


def cli_env(**extra):
    env = dict(os.environ, KERASVIZ_QUICK="1", TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0")
    env.update(extra)
    return env


def run_cli(*args, cwd, **env):
    return subprocess.run(command(*args), cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, env=cli_env(**env))


def section_states(html: str) -> dict:
    return dict(re.findall(r'<section id="(section-[a-z]+)" class="section" data-state="(\w+)"', html))


def assert_complete_report(path):
    html = open(path, encoding="utf-8").read()
    assert section_states(html) == {s: "ok" for s in SECTIONS}, re.findall(r'class="error">([^<]*)', html)
    sources = re.findall(r'<img[^>]* src="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r'<(link|script)\b|src="(https?:|file:|/)|url\(', html), "the report must be self-contained"
    return html


def write_photos(folder, rng):
    """Three photos of different sizes and kinds: RGB PNG, grey PNG, RGBA in a subfolder."""
    import skimage.io

    folder.mkdir()
    (folder / "sub").mkdir()
    skimage.io.imsave(folder / "rgb.png", rng.integers(0, 256, (40, 30, 3), dtype=np.uint8), check_contrast=False)
    skimage.io.imsave(folder / "grey.png", rng.integers(0, 256, (20, 20), dtype=np.uint8), check_contrast=False)
    skimage.io.imsave(
        folder / "sub" / "rgba.png", rng.integers(0, 256, (24, 32, 4), dtype=np.uint8), check_contrast=False
    )
    (folder / "notes.txt").write_text("not an image, ignored")


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "transfer.keras"
    nested_model(sequential=True).save(path)
    (path.parent / "classes3.txt").write_text("a\nb\nc\n")
    return path


@pytest.fixture(scope="module")
def vgg_report(tmp_path_factory):
    """The default command (VGG16, sample photos) in quick mode: (report path, result, seconds)."""
    folder = tmp_path_factory.mktemp("vgg")
    start = time.perf_counter()
    result = run_cli("--quick", cwd=folder)
    return folder / "kerasviz-report.html", result, time.perf_counter() - start


def test_cli_on_saved_nested_model_and_folder(saved_model, tmp_path):
    write_photos(tmp_path / "photos", np.random.default_rng(0))
    out = tmp_path / "out" / "report.html"
    result = run_cli("--model", saved_model, tmp_path / "photos", "-o", out, "--quick", "--top", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"wrote {out}" in result.stdout
    html = assert_complete_report(out)
    assert "weights from transfer.keras" in html
    assert all(name in html for name in ("rgb.png", "grey.png", os.path.join("sub", "rgba.png")))
    assert "notes.txt" not in html
    assert "base/conv1" in html and "base/conv2" in html  # one conv per block, inside the nested base
    assert "kerasviz inspect" in result.stderr  # the progress bar over sections


@pytest.fixture
def bad_inputs(tmp_path):
    import zipfile

    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(40)))  # a PNG header, no image data
    (tmp_path / "text.jpg").write_text("this is not a JPEG file")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    (tmp_path / "corrupt.keras").write_bytes(b"not a zip archive")
    (tmp_path / "zero.keras").write_bytes(b"")
    with zipfile.ZipFile(tmp_path / "other.keras", "w") as archive:
        archive.writestr("notes.txt", "a zip, but not from model.save()")
    (tmp_path / "text.h5").write_text("not HDF5")
    (tmp_path / "classes-blank.txt").write_text("cat\n\ndog\n")
    (tmp_path / "classes-empty.txt").write_text("\n")
    return tmp_path


ERROR_CASES = {  # name: (arguments, with {dir} and {model} filled in; text of the one error line)
    "unreadable image": (["--model", "{model}", "{dir}/broken.png"], "cannot read image"),
    "text named .jpg": (["--model", "{model}", "{dir}/text.jpg"], "is a text file, not an image"),
    "empty image file": (["--model", "{model}", "{dir}/empty.jpg"], "is empty (0 bytes)"),
    "missing image": (["--model", "{model}", "{dir}/nope.jpg"], "no such image file or folder"),
    "empty folder": (["--model", "{model}", "{dir}/empty"], "holds no images"),
    "missing model": (["--model", "{dir}/missing.keras"], "does not exist"),
    "model folder": (["--model", "{dir}/empty"], "is a folder"),
    "corrupt model": (["--model", "{dir}/corrupt.keras"], "is not a Keras model archive"),
    "empty model file": (["--model", "{dir}/zero.keras"], "is empty (0 bytes)"),
    "zip that is not a model": (["--model", "{dir}/other.keras"], "without config.json"),
    "text named .h5": (["--model", "{dir}/text.h5"], "is not an HDF5 file"),
    "unsupported model": (["--model", "{dir}/broken.png"], "unsupported model file"),
    "unknown model name": (["--model", "resnet9000"], "unknown model 'resnet9000'"),
    "unknown layer": (["--model", "{model}", "--layers", "conv9"], "No layer 'conv9'"),
    "layer without feature maps": (["--model", "{model}", "--layers", "outer_head"], "needs layers with feature maps"),
    "output is a folder": (["--model", "{model}", "-o", "{dir}"], "is a folder"),
    "output under a file": (["--model", "{model}", "-o", "{dir}/text.jpg/r.html"], "is a file"),
    "classes file missing": (["--model", "{model}", "--classes", "{dir}/none.txt"], "does not exist"),
    "classes with a blank line": (["--model", "{model}", "--classes", "{dir}/classes-blank.txt"], "empty line 2"),
    "classes file empty": (["--model", "{model}", "--classes", "{dir}/classes-empty.txt"], "is empty"),
    "classes of the wrong length": (
        ["--model", "{model}", "--classes", "{model_dir}/classes3.txt"],
        "3 names; the model has 4",
    ),
}


def error_args(name, folder, model):
    args, _ = ERROR_CASES[name]
    output = [] if "-o" in args else ["-o", str(folder / "report.html")]
    return [a.format(dir=folder, model=model, model_dir=model.parent) for a in args] + output


def assert_one_error_line(name, returncode, stderr):
    lines = [line for line in stderr.splitlines() if line.startswith("kerasviz inspect: error:")]
    assert returncode == 1, (name, stderr[-1500:])
    assert "Traceback" not in stderr, name
    assert len(lines) == 1 and ERROR_CASES[name][1] in lines[0], (name, stderr[-1500:])


@pytest.mark.parametrize("name", sorted(ERROR_CASES))
def test_cli_error_cases(name, bad_inputs, saved_model, capsys):
    from kerasviz.cli import main

    code = main(["inspect", *error_args(name, bad_inputs, saved_model)])
    assert_one_error_line(name, code, capsys.readouterr().err)
    assert not (bad_inputs / "report.html").exists(), "no report is written when the command fails"


def test_cli_lenet_without_mnist_says_how_to_provide_it(tmp_path, monkeypatch, capsys):
    import kerasviz as kv
    from kerasviz.cli import main

    def unavailable(*args, **kwargs):
        raise kv.DatasetUnavailableError("Could not download MNIST (URL fetch failure).\n  1. copy mnist.npz ...")

    monkeypatch.setattr(kv, "load_trained_lenet", unavailable)
    code = main(["inspect", "--model", "lenet", "-o", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "needs MNIST: set $KERASVIZ_MNIST" in errors[0]


def test_cli_errors_exit_nonzero_as_a_command(bad_inputs, saved_model):
    """Two error cases through the real command (exit status, no traceback), run side by side."""
    names = ["unreadable image", "unknown model name"]
    running = {
        n: subprocess.Popen(
            command(*error_args(n, bad_inputs, saved_model)),
            cwd=bad_inputs,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in names
    }
    for name, process in running.items():
        try:
            _, stderr = process.communicate(timeout=TIMEOUT)
        finally:
            process.kill()
        assert_one_error_line(name, process.returncode, stderr)


def test_cli_vgg16_default_quick(vgg_report):
    path, result, seconds = vgg_report
    assert result.returncode == 0, result.stderr[-2000:]
    html = assert_complete_report(path)
    for sample in ("cat", "coffee"):
        assert sample in html
    assert html.count('class="thumb"') == 2
    if "untrained" in html.split('id="weights-label">')[1].split("<")[0]:
        assert 'class="untrained"' in html and "UNTRAINED" in result.stderr
    print(f"kerasviz inspect (VGG16, quick, 2 sample photos): {seconds:.1f} s")


def test_cli_lenet_on_mnist_digits(tmp_path, mnist):
    result = run_cli("--model", "lenet", "--quick", "-o", "lenet.html", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    html = assert_complete_report(tmp_path / "lenet.html")
    assert "test digit 0" in html and "LeNet" in html


def test_python_api_leaves_model_unchanged(tmp_path):
    model = nested_model(sequential=False)
    photos = [np.random.default_rng(i).integers(0, 256, (20 + 5 * i, 24, 3), dtype=np.uint8) for i in range(2)]
    probe = np.random.default_rng(9).uniform(0, 1, (2, 16, 16, 3)).astype("float32")
    with unchanged(model, probe):
        path = inspect_report(model, photos, str(tmp_path / "api.html"), names=["a", "b"], quick=True, progress=False)
    assert_complete_report(path)


def test_explicit_flags_win_over_quick_and_the_header_says_what_ran(saved_model, tmp_path, monkeypatch, capsys):
    """`--quick --steps 5 --filters 3` runs 5 steps on 3 filters; --preprocess and --classes reach the report."""
    from kerasviz.cli import main

    monkeypatch.delenv("KERASVIZ_QUICK", raising=False)  # quick mode from the flag only
    classes = tmp_path / "classes.txt"
    classes.write_text("apple\nbanana\ncherry\ndate\n")
    out = tmp_path / "r.html"
    code = main(
        [
            "inspect",
            "--model",
            str(saved_model),
            "-o",
            str(out),
            "--quick",
            "--steps",
            "5",
            "--filters",
            "3",
            "--preprocess",
            "0-255",
            "--classes",
            str(classes),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err[-1500:]
    assert err.index("loading model") < err.index("kerasviz inspect:", err.index("loading model") + 1)  # said first
    html = assert_complete_report(out)
    header = html.split('<ul class="meta">')[1].split("</ul>")[0]
    assert "quick mode" in header and "3 filter(s) per layer" in header and " 5 steps" in header, header
    assert "--preprocess 0-255" in header
    assert re.search(r"(apple|banana|cherry|date) \(class \d\)", html)


def test_a_section_failing_in_the_command_exits_1_with_one_line(saved_model, tmp_path, monkeypatch, capsys):
    from kerasviz.cli import main

    def broken(ins):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(sections, "featurevis_section", broken)
    code = main(["inspect", "--model", str(saved_model), "-o", str(tmp_path / "r.html"), "--quick"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and "This section failed" not in err
    lines = [line for line in err.splitlines() if line.startswith("kerasviz inspect: error:")]
    assert lines == ["kerasviz inspect: error: RuntimeError: simulated failure"], err[-1000:]
    assert not (tmp_path / "r.html").exists()


def test_a_failing_section_is_shown_and_the_rest_written(tmp_path, monkeypatch):
    def broken(ins):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(sections, "featurevis_section", broken)
    path = inspect_report(nested_model(), None, str(tmp_path / "partial.html"), quick=True, progress=False)
    html = open(path, encoding="utf-8").read()
    states = section_states(html)
    assert states.pop("section-featurevis") == "failed" and set(states.values()) == {"ok"}
    assert "RuntimeError: simulated failure" in html


def test_report_in_a_real_browser(vgg_report, page, artifact_dir):
    path, result, _ = vgg_report
    assert result.returncode == 0, result.stderr[-2000:]
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    for section in SECTIONS:
        locator = page.locator(f"#{section}")
        assert locator.is_visible(), section
        counts = locator.evaluate(
            "s => [s.querySelectorAll('img').length, "
            "[...s.querySelectorAll('img')].filter(i => i.complete && i.naturalWidth > 0).length]"
        )
        assert counts[0] == counts[1], (section, counts)
        if section not in ("section-model",):
            assert counts[0] > 0, section
    assert page.locator(".untrained, #weights-label").first.is_visible()
    page.screenshot(path=str(artifact_dir / "inspect_report.png"), full_page=True)


def test_imagenet_class_names_only_for_real_weights_and_never_hang():
    assert sections.imagenet_names("untrained (random weights)", 1000) is None
    assert sections.imagenet_names("ImageNet weights", 10) is None
    start = time.perf_counter()
    names = sections.imagenet_names("ImageNet weights", 1000)  # offline: None, quickly; cached or online: 1000 names
    assert names is None or (len(names) == 1000 and names[281] == "tabby")
    assert time.perf_counter() - start < 30
