"""What a reader sees in the saved notebooks: clean outputs, text that does not contradict them, checks that pass.

Reads every `notebooks/*.ipynb` as saved (no kernel, well under a second). Fails on:

- stderr output, error output, a progress bar, a "Downloading data from" line or a raw widget repr saved
  in an output (a widget's saved output must be its picture or text fallback);
- internal jargon in any cell (project seed-document numbers, issue numbers, research-note file names);
- a result number typed in Markdown (a percentage, seconds, pixels, a ratio "2.3x", "12 of 16", a decimal
  such as "0.830"): sentences that quote a measured value are written by a code cell
  (`IPython.display.Markdown(f"...")` or `print`) so they always match the output;
- a saved "CHECK FAILED" line, and notebook 04's MNIST check (optimised images beat the best of the test
  digits for most live filters) or any feature-visualization row whose filters did not all rise above
  their starting score (unless the cell says which filters it left out of the figure).
"""

import glob
import json
import os
import re

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))

# ---- saved outputs -------------------------------------------------------------------------------
PROGRESS = re.compile(r"\d+%\|[^\n]*\|| \d+/\d+ \[\d\d:\d\d<|it/s\]")
DOWNLOAD = re.compile(r"Downloading data from")
WIDGET_REPR = re.compile(r"\b[A-Z]\w*\((children|value|layout)=")
# TensorFlow's oneDNN build prints this E-level line the first time a graph transposes an integer tensor
# (a scan's merge did), long after `import kerasviz` quieted the start-up; `TF_CPP_MIN_LOG_LEVEL=2` keeps
# E lines. kerasviz's graphs avoid the op; test_no_onednn_integer_notice keeps it out of the notebooks.
ONEDNN_INT32 = re.compile(
    r"^E\d{4} [\d:. ]+\d+ util\.cc:\d+\] oneDNN supports DT_INT32 only on platforms with AVX-512\. "
    r"Falling back to the default Eigen-based implementation if present\.\n?$"
)
# ---- text anywhere -------------------------------------------------------------------------------
JARGON = re.compile(r"seed\s+0\d\d|\bissue\s*#?\d+|methods(_more)?\.md", re.I)
# ---- typed result numbers in Markdown ------------------------------------------------------------
# Removed before the search: code spans and blocks, LaTeX, links' targets, and the allow-list: model
# names with digits (VGG16, ResNet50), sizes ("224×224", "3 × 3", "5x5", "3×3×3"), years and citations
# ("Zhou et al. 2016", "(2018)"), numbered headings ("## 3 ·", "## 2."), digits inside words ("conv2").
STRIP = [
    re.compile(r"```.*?```", re.S),
    re.compile(r"`[^`]*`"),
    re.compile(r"\$[^$]*\$"),
    re.compile(r"\]\([^)]*\)"),
    re.compile(r"<[^>]+>"),
]
ALLOW = [
    re.compile(r"\b[A-Za-z][A-Za-z_-]*\d+[A-Za-z\d_]*\b"),  # VGG16, conv2, block5_conv3, LeNet5, L7
    re.compile(r"\b\d+\s*[×x]\s*\d+(\s*[×x]\s*\d+)*"),  # sizes: 224×224, 3 × 3, 3×3×3
    re.compile(r"\b(19|20)\d\d[a-z]?\b"),  # years (and 2018a)
    re.compile(r"^#+\s*\d+(\.\d+)?\s*[·.]?", re.M),  # numbered headings
    re.compile(r"^\s*\d+\.\s", re.M),  # numbered lists
    re.compile(r"[=≈<>≤≥±]\s*-?\d[\d.,]*"),  # a setting: ε = 0.25, APoZ > 0.9
]
CLAIMS = [
    ("a percentage", re.compile(r"\d[\d,]*(\.\d+)?\s?%")),
    ("a time, size or ratio", re.compile(r"\b\d[\d,]*(\.\d+)?\s?(ms|s|px|x|×)(?![\w×])")),
    ("a count 'N of M'", re.compile(r"\b\d[\d,]*\s+of\s+(the\s+)?\d")),
    ("a decimal value", re.compile(r"(?<![\w.])\d+\.\d+(?![\w.])(?!\s?(%|ms|s|px|x|×)(?![\w×]))")),
]


def load(path):
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def outputs(notebook):
    """(cell index, output, its text: stream text or every text-like data entry)."""
    for index, cell in enumerate(notebook["cells"]):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            body = text(output.get("text", "")) + "".join(
                text(v) for k, v in data.items() if k.startswith("text/") and k != "text/html"
            )
            yield index, output, body


def typed_claims(markdown: str) -> list:
    """The measured-looking numbers typed in a Markdown cell (empty when it quotes none)."""
    for pattern in STRIP + ALLOW:
        markdown = pattern.sub(" ", markdown)
    return [f"{what}: {m.group(0)!r}" for what, pattern in CLAIMS for m in pattern.finditer(markdown)]


def ids(paths):
    return [os.path.basename(p) for p in paths]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 8


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_saved_outputs_are_clean(path):
    problems = []
    for index, output, body in outputs(load(path)):
        where = f"cell {index}"
        if output["output_type"] == "stream" and output.get("name") == "stderr":
            problems.append(f"{where}: stderr output {body[:100]!r}")
        if output["output_type"] == "error":
            problems.append(f"{where}: error output {output.get('ename')}")
        if PROGRESS.search(body):
            problems.append(f"{where}: a progress bar {body[:100]!r}")
        if DOWNLOAD.search(body):
            problems.append(f"{where}: a download line {body[:100]!r}")
        if WIDGET_REPR.search(text(output.get("data", {}).get("text/plain", ""))):
            problems.append(f"{where}: a raw widget repr {body[:100]!r}")
        if "application/vnd.jupyter.widget-view+json" in output.get("data", {}) and not body.strip():
            problems.append(f"{where}: a widget saved without a text fallback")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_no_internal_jargon(path):
    found = []
    for index, cell in enumerate(load(path)["cells"]):
        found += [f"cell {index} source: {m.group(0)!r}" for m in JARGON.finditer(text(cell["source"]))]
    for index, _, body in outputs(load(path)):
        found += [f"cell {index} output: {m.group(0)!r}" for m in JARGON.finditer(body)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_markdown_quotes_no_typed_results(path):
    found = []
    for index, cell in enumerate(load(path)["cells"]):
        if cell["cell_type"] == "markdown":
            found += [f"cell {index}: {claim}" for claim in typed_claims(text(cell["source"]))]
    assert not found, (
        "numbers that describe results must come from a code cell "
        "(IPython.display.Markdown(f'...') or print):\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    "sentence, claims",
    [
        ("The t-SNE layout scores 0.830 against 0.571 for a random one.", 2),
        ("Optimised images win for 16 of 16 filters.", 1),
        ("IG is off by 59 % in quick mode; the scan takes 2.5 s.", 2),
        ("Receptive field: 212 px at block5.", 1),
        ("Score-CAM runs at 1.3x the cost of a forward pass.", 1),
        ("VGG16 takes 224×224 images; 3×3 kernels (Simonyan & Zisserman 2015), in `conv2` of `0.5 s`.", 0),
        ("## 3 · Activations\n1. the model; LRP-ε with ε = 0.25 and APoZ > 0.9.", 0),
    ],
)
def test_typed_claim_rule_can_fail(sentence, claims):
    assert len(typed_claims(sentence)) == claims, typed_claims(sentence)


def test_no_onednn_integer_notice():
    """oneDNN's "supports DT_INT32 only" notice (error level) once reached notebooks from integer transposes."""
    found = [
        os.path.basename(path)
        for path in NOTEBOOKS
        for _, output, body in outputs(load(path))
        if output.get("name") == "stderr" and ONEDNN_INT32.match(body)
    ]
    assert not found, found


def check_lines(path):
    return [
        (index, line)
        for index, output, body in outputs(load(path))
        if output["output_type"] == "stream"
        for line in body.splitlines()
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_no_saved_check_failed(path):
    failed = [f"cell {i}: {line}" for i, line in check_lines(path) if "CHECK FAILED" in line]
    lines = check_lines(path)
    left_out = {i for i, line in lines if line.startswith("left out:")}
    rows = [(i, line, re.search(r"score above its start for (\d+) of (\d+) filters", line)) for i, line in lines]
    failed += [
        f"cell {i}: {line} (and no 'left out:' line)"
        for i, line, m in rows
        if m and m.group(1) != m.group(2) and i not in left_out
    ]
    assert not failed, "\n".join(failed)


def test_notebook04_mnist_checks_pass():
    path = os.path.join(ROOT, "notebooks", "04_feature_visualization.ipynb")
    lines = [line for _, line in check_lines(path)]
    beats = [re.search(r"for (\d+) of (\d+) live filters", line) for line in lines]
    beats = [(int(m.group(1)), int(m.group(2))) for m in beats if m]
    assert beats, "notebook 04 saved no 'beats every one of ... digits' check line"
    assert all(won > live / 2 for won, live in beats), beats
    passed = [line for line in lines if line.startswith("check passed")]
    assert len(passed) >= 3, lines
