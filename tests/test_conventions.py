"""The README's API conventions, checked on every public signature (no model is built).

Each public function in `kerasviz.__all__` (and the `kerasviz.relevance` / `kerasviz.widgets` names the
README documents) belongs to one family of the table below, which fixes its leading arguments; what
follows them is keyword-only. Over all of them: `progress` defaults to True, batch sizes are named for
what they count, old spellings live only in deprecated aliases, a docstring has Args / Returns /
Example, and a flag that changes the return type is typed with `@overload` / `Literal`. The checks
are plain functions of a function object, so `test_a_planted_violation_fails` can show each one
failing on a function written to break it. The API reference must list every public name, and
`.ci/run` must run the README's test command.
"""

from __future__ import annotations

import inspect
import pathlib
import re
import typing

import pytest

import kerasviz as kv

ROOT = pathlib.Path(__file__).resolve().parent.parent
KW = inspect.Parameter.KEYWORD_ONLY
VAR_KW = inspect.Parameter.VAR_KEYWORD

# Family -> leading arguments (in order); every argument after them is keyword-only.
FAMILIES: dict[str, tuple[str, ...]] = {
    "per-image map": ("model", "images", "target"),
    "metric of maps": ("model", "images", "maps", "target"),
    "metric of a method": ("model", "images", "method", "target"),
    "metric of methods": ("model", "images", "methods", "target"),
    "dataset view": ("model", "layer", "data"),
    "per-filter view": ("model", "layer", "filters"),
    "layer of a model": ("model", "layer"),
    "per-image, layers": ("model", "images", "layers"),
    "per-image, layer": ("model", "images", "layer"),
    "per-filter view of images": ("model", "layer", "images"),
    "concept vector": ("model", "layer", "concept_images", "random_images"),
    "concept test": ("model", "layer", "concept_images", "images", "target"),
}
MEMBERS: dict[str, tuple[str, ...]] = {
    "per-image map": (
        "saliency gradient smoothgrad guided_backprop deconvnet integrated_gradients grad_cam grad_cam_plus_plus "
        "guided_grad_cam occlusion score_cam ablation_cam hires_cam xgrad_cam layer_cam eigen_cam gradient_x_input "
        "vargrad rise lime kernel_shap sobol_attribution lrp crp"
    ).split(),
    "metric of maps": "deletion_auc insertion_auc mu_fidelity average_drop infidelity".split(),
    "metric of a method": "randomization_check max_sensitivity".split(),
    "metric of methods": ["attribution_metrics"],
    "dataset view": (
        "top_activating neuron_feature dead_filters activation_summary filter_similarity redundant_filters "
        "embedding_grid relevance_maximization activation_atlas nmf_concepts"
    ).split(),
    "per-filter view": ["visualize_filters", "estimate_seconds"],
    "layer of a model": ["decode_filters", "decode_filters_transposed", "receptive_field", "filter_weights"],
    "per-image, layers": ["activations", "deep_dream"],
    "per-image, layer": ["invert"],
    "per-filter view of images": ["decoded_response", "caricature"],  # arrays of images, not any data source
    "concept vector": ["cav"],
    "concept test": ["tcav"],
}
BANNED_NAMES = {"image", "cnn", "model_or_top", "filter_index", "reading", "preprocess"}
BATCH_NAMES = {  # a batch size is named for what it counts: words its docstring line must use
    "batch_size": ("image", "rows"),
    "path_batch_size": ("path",),
    "sample_batch_size": ("cop", "sample"),  # noisy / perturbed copies
    "mask_batch_size": ("mask", "cop", "perturbed"),  # masked, occluded, ablated copies
    "filter_batch_size": ("filter", "channel", "optimised together"),
    "image_batch_size": ("image", "caricature"),
    "icon_batch_size": ("icon",),
}
# Flags that change the return type: (function, argument) -> typed with @overload / Literal.
TYPED_FLAGS = [("lrp", "return_layers"), ("deletion_auc", "return_curves"), ("insertion_auc", "return_curves")]


def public_functions() -> dict[str, typing.Callable]:
    """Every function in kv.__all__, plus the kerasviz.relevance names the README documents."""
    found = {name: getattr(kv, name) for name in kv.__all__ if inspect.isfunction(getattr(kv, name))}
    for name in ("layer_lrp", "relevance_layers"):
        found[f"relevance.{name}"] = getattr(kv.relevance, name)
    return found


def family_of(name: str) -> str | None:
    return next((family for family, names in MEMBERS.items() if name in names), None)


def parameters(fn) -> list[inspect.Parameter]:
    return list(inspect.signature(fn).parameters.values())


def deprecated_aliases(fn) -> set[str]:
    """Old spellings `fn` still accepts by keyword (its source warns with a DeprecationWarning)."""
    try:
        source = inspect.getsource(inspect.unwrap(fn))
    except (OSError, TypeError):
        return set()
    if "DeprecationWarning" not in source and "renamed" not in source and "accept_old" not in source:
        return set()
    return {name for name in BANNED_NAMES if re.search(rf"\b{name}\b\s*=", source) or f'"{name}"' in source}


def check_leading(fn, family: str) -> list[str]:
    """The family's leading arguments in order, positional; everything after them keyword-only."""
    params = parameters(fn)
    lead = FAMILIES[family]
    names = [p.name for p in params[: len(lead)]]
    problems = []
    if names != list(lead):
        problems.append(f"leading arguments {names}, expected {list(lead)} ({family})")
    for p in params[: len(lead)]:
        if p.kind is KW:
            problems.append(f"`{p.name}` is keyword-only; the {family} convention passes it by position")
    loose = [p.name for p in params[len(lead) :] if p.kind not in (KW, VAR_KW)]
    if loose:
        problems.append(f"{loose} after {lead[-1]!r} must be keyword-only")
    return problems


def check_progress(fn) -> list[str]:
    param = inspect.signature(fn).parameters.get("progress")
    if param is not None and param.default is not True:
        return [f"progress defaults to {param.default!r}, expected True"]
    return []


def doc_line(fn, name: str) -> str:
    """The Args entry for `name` (first line of it), '' if the docstring does not list it."""
    match = re.search(rf"^\s+{re.escape(name)}(?: \([^)]*\))?: (.*)$", inspect.getdoc(fn) or "", re.M)
    return match.group(1) if match else ""


def check_batch_names(fn) -> list[str]:
    problems = []
    for p in parameters(fn):
        if "batch" not in p.name or p.name == "batch":
            continue
        if p.name not in BATCH_NAMES:
            problems.append(f"`{p.name}`: batch sizes are named for what they count ({sorted(BATCH_NAMES)})")
            continue
        line = doc_line(fn, p.name).lower()
        if line and not any(word in line for word in BATCH_NAMES[p.name]):
            problems.append(f"`{p.name}` is documented as {line!r}: it counts {BATCH_NAMES[p.name][0]}s")
    return problems


def check_names(fn) -> list[str]:
    old = {p.name for p in parameters(fn)} & BANNED_NAMES
    return [f"`{name}` is an old spelling (see the README's Names)" for name in sorted(old)]


def check_docstring(fn) -> list[str]:
    doc = inspect.getdoc(fn) or ""
    problems = []
    takes = [p for p in parameters(fn) if p.kind not in (inspect.Parameter.VAR_POSITIONAL, VAR_KW)]
    if takes and not re.search(r"^Args:$", doc, re.M):
        problems.append("docstring has no Args: section")
    if not re.search(r"^Returns:$", doc, re.M):
        problems.append("docstring has no Returns: section")
    if not re.search(r"^Examples?:$", doc, re.M):
        problems.append("docstring has no Example: section")
    return problems


def check_typed_flag(fn, flag: str) -> list[str]:
    overloads = typing.get_overloads(inspect.unwrap(fn))
    if len(overloads) < 2:
        return [f"`{flag}=` changes the return type: declare it with @overload / Literal"]
    hints = [str(inspect.signature(o).parameters[flag].annotation) for o in overloads]
    if not all("Literal" in h for h in hints):
        return [f"the @overload variants of `{flag}=` are not typed with Literal: {hints}"]
    return []


def violations(fn, family: str | None) -> list[str]:
    problems = check_progress(fn) + check_batch_names(fn) + check_docstring(fn)
    problems += [p for p in check_names(fn) if p.split("`")[1] not in deprecated_aliases(fn)]
    if family is not None:
        problems += check_leading(fn, family)
    return problems


FUNCTIONS = public_functions()


def test_every_family_member_is_public():
    missing = [name for names in MEMBERS.values() for name in names if name not in FUNCTIONS]
    assert not missing, f"the family table names functions that are not public: {missing}"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_public_function_follows_the_conventions(name):
    fn = FUNCTIONS[name]
    problems = violations(fn, family_of(name))
    assert not problems, f"kv.{name}{inspect.signature(fn)}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name, flag", TYPED_FLAGS)
def test_a_flag_that_changes_the_return_type_is_typed(name, flag):
    assert not check_typed_flag(FUNCTIONS[name], flag)


def test_a_planted_violation_fails():
    def per_image(model, image, target=None, layer=None, progress=False, path_batch=8, preprocess=None):
        """A map.

        Args:
            model: a model.
            image: an image.
            target: the class.
            layer: a layer.
            progress: show a bar.
            path_batch: path points per call.
            preprocess: old name.
        """

    problems = violations(per_image, "per-image map")
    for expected in (
        "leading arguments",  # image, not images
        "must be keyword-only",  # layer after target
        "progress defaults",
        "`path_batch`",
        "`image` is an old spelling",
        "`preprocess` is an old spelling",
        "no Returns",
        "no Example",
    ):
        assert any(expected in p for p in problems), (expected, problems)

    def flag(model, images, target=None, *, return_layers: bool = False):
        """Args/Returns/Example omitted."""

    assert check_typed_flag(flag, "return_layers")

    def documented(model, images, target=None, *, batch_size: int = 8):
        """Maps.

        Args:
            model: a model.
            images: images.
            target: the class.
            batch_size: filters per call.

        Returns:
            Maps.

        Example:
            >>> documented(model, x)
        """

    assert any("counts images" in p for p in check_batch_names(documented))
    assert violations(documented, "per-image map") == check_batch_names(documented)  # nothing else is wrong


def test_every_public_name_has_an_api_reference_entry():
    pages = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs" / "api").glob("*.md"))
    modules = {"lrp_rules", "objectives", "param", "regularizers", "transforms", "testing", "widgets", "data"}
    missing = [n for n in kv.__all__ if n not in modules and f"::: kerasviz.{n}\n" not in pages]
    assert not missing, f"run `python tools/api_pages.py`: no API reference entry for {missing}"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = re.search(r"```bash\n(python3 -m venv \.venv && \.venv/bin/pip install -e \"\.\[test[^\n]*)\n```", readme)
    assert command, "the README's test command is missing"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    extras = re.search(r'install -e "(\.\[[^\]]+\])"', command.group(1)).group(1)
    assert f'install -q -e "{extras}"' in ci
    for part in command.group(1).split(" && ")[2:]:
        assert part in ci, f".ci/run does not run `{part}`"


def test_old_call_forms_still_work_with_a_warning():
    import numpy as np

    model = kv.testing.small_cnn()
    conv = kv.conv_layers(model)[0]
    with pytest.warns(DeprecationWarning, match="input_size"):
        old = kv.receptive_field(model, conv, (16, 16))
    assert old == kv.receptive_field(model, conv, input_size=(16, 16))
    with pytest.warns(DeprecationWarning, match="unpool"):
        old = kv.decode_filters(model, conv, "nearest", filters=[0], progress=False)
    np.testing.assert_array_equal(old, kv.decode_filters(model, conv, unpool="nearest", filters=[0], progress=False))
    responses = np.random.default_rng(0).random((5, 3, 3, 4))
    with pytest.warns(DeprecationWarning, match="filters"):
        old = kv.top_locations(responses, filter_index=2, k=2)
    for a, b in zip(old, kv.top_locations(responses, 2, k=2)):
        np.testing.assert_array_equal(a, b)


def test_the_version_is_defined_once():
    import importlib.metadata

    declared = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M)
    assert declared and kv.__version__ == declared.group(1)
    try:
        assert kv.__version__ == importlib.metadata.version("kerasviz")
    except importlib.metadata.PackageNotFoundError:
        pass  # a source tree that was never installed: read from pyproject.toml above
    source = (ROOT / "kerasviz" / "__init__.py").read_text(encoding="utf-8")
    assert declared.group(1) not in source, "kerasviz/__init__.py must not repeat the version"


ROOT = pathlib.Path(__file__).resolve().parents[1]
# Internal talk that must not reach users: planning-document numbers, issue numbers, research-note
# file names, remarks about the project's CI machine. Built from parts so this file passes its own check.
INTERNAL_TALK = re.compile(
    "|".join([r"\bseed\s+0\d\d", r"\bissue\s*#?\d+", r"\bmethods(_more)?\." + "md", r"\bour " + "CI\\b"]), re.I
)


def _project_files():
    for folder in ("kerasviz", "tests", "benchmarks", "tools", "notebooks"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in (".py", ".ipynb", ".md") and "__pycache__" not in path.parts:
                yield path


def test_no_internal_talk_in_code_tests_benchmarks_tools_or_notebooks():
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)!r}"
        for path in _project_files()
        for match in INTERNAL_TALK.finditer(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert not found, found


def test_internal_talk_pattern_can_fail():
    planted = "as in " + "seed " + "004, see " + "issue " + "12 and methods" + ".md; " + "our " + "CI runs it"
    assert len(INTERNAL_TALK.findall(planted)) == 4


MAX_LINES = 400


def test_no_module_in_the_package_above_400_lines():
    long = {
        str(path.relative_to(ROOT)): n
        for path in sorted((ROOT / "kerasviz").rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules by what their parts hold: {long}"
