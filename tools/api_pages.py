"""Write docs/api/*.md: one API reference page per group of `kv.*` names in kerasviz/__init__.py.

    python tools/api_pages.py    # after adding a public name; tests/test_conventions.py checks the pages

The groups are the commented import blocks of kerasviz/__init__.py (as the README groups them);
each name becomes a mkdocstrings `::: kerasviz.<name>` block, rendered from its docstring by
`mkdocs build` (mkdocs.yml at the repository root).
"""

from __future__ import annotations

import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = {  # group title in kerasviz/__init__.py -> (page file, page title, extra objects rendered)
    "Errors": ("errors.md", "Errors", []),
    "Models, photos and preprocessing.": ("models.md", "Models, photos and preprocessing", []),
    "Activations and filter weights.": ("activations.md", "Activations and filter weights", []),
    "Figures and run settings.": ("settings.md", "Figures and run settings", []),
    "Filter decoding": ("decoding.md", "Filter decoding with substitution", []),
    "Attribution maps": ("attribution.md", "Attribution maps and their metrics", []),
    "Dataset views.": ("dataset.md", "Dataset views", []),
    "Feature visualization.": ("featurevis.md", "Feature visualization", []),
    "Layer-wise relevance propagation.": (
        "lrp.md",
        "Layer-wise relevance propagation",
        ["kerasviz.relevance.layer_lrp", "kerasviz.relevance.LayerLRP", "kerasviz.relevance.relevance_layers"],
    ),
    "Concepts.": ("concepts.md", "Concepts", []),
    "The report": ("report.md", "The report, widgets and model checks", []),
}
MODULE_PATHS = {  # names in kv.* that are modules: the module they are
    "lrp_rules": "kerasviz.relevance.rules",
    "objectives": "kerasviz.featurevis.objectives",
    "param": "kerasviz.featurevis.param",
    "regularizers": "kerasviz.featurevis.regularizers",
    "transforms": "kerasviz.featurevis.transforms",
    "data": None,  # the former module of loaders/photos/preprocessing: its names are documented once
    "testing": "kerasviz.testing",
    "widgets": "kerasviz.widgets",
}


def groups() -> list[tuple[str, list[str]]]:
    """(comment title, names imported under it) for each group of kerasviz/__init__.py."""
    source = (ROOT / "kerasviz" / "__init__.py").read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    found: list[tuple[str, list[str]]] = []
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom) or node.module is None:
            continue
        names = [alias.asname or alias.name for alias in node.names if not (alias.asname or alias.name).startswith("_")]
        if not names:
            continue
        above = lines[node.lineno - 2].strip()
        if above.startswith("# ") and not above.startswith("# isort"):
            found.append((above[2:], []))
        if found:
            found[-1][1].extend(names)
    return found


def page_for(title: str) -> tuple[str, str, list[str]]:
    for key, page in PAGES.items():
        if title.startswith(key):
            return page
    raise SystemExit(f"tools/api_pages.py: no page for the group {title!r}; add it to PAGES")


def main() -> None:
    out = ROOT / "docs" / "api"
    out.mkdir(parents=True, exist_ok=True)
    for title, names in groups():
        file, heading, extra = page_for(title)
        blocks = [f"# {heading}\n", f"{re.sub(r'[.]$', '', title)}.\n"]
        for name in names:
            if name in MODULE_PATHS:
                if MODULE_PATHS[name]:
                    blocks.append(f"## `kv.{name}`\n\n::: {MODULE_PATHS[name]}\n")
                continue
            blocks.append(f"::: kerasviz.{name}\n")
        blocks += [f"::: {path}\n" for path in extra]
        (out / file).write_text("\n".join(blocks), encoding="utf-8")
        print(f"docs/api/{file}: {len(names) + len(extra)} names")


if __name__ == "__main__":
    main()
