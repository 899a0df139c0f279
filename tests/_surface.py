"""The public surface a user can call, and the bad-input rows the test tables hold for it.

    from _surface import public_callables, rows_per_function

`public_callables()` maps a public name (`"saliency"`, `"widgets.Explorer"`, `"testing.unchanged"`)
to the object: every function and user-constructed class of `kerasviz.__all__` (or, before the
package lists one, every public callable defined in kerasviz that `import kerasviz` exposes), plus
the widgets and testing helpers the README documents. Exceptions and result classes (built by
kerasviz, never by the user) are left out.

`rows_per_function()` reads the bad-input tables (`tests/test_bad_inputs_*.py`) without running them
and counts, per public name, the places a table row or a bad-input test refers to it: `kv.name`,
`kv.widgets.Name`, a name imported from kerasviz, or the name as a string key of a table of methods
(`METHODS = {"saliency": ...}`). The tool `tools/audit_edges.py` uses the same list of callables.
"""

from __future__ import annotations

import ast
import inspect
import pathlib
import re

import kerasviz as kv

TESTS = pathlib.Path(__file__).resolve().parent
README = TESTS.parent / "README.md"

# Classes a user builds (everything else public and a class is a result or an error).
USER_CLASSES = ("Composite", "Style")
# Names that are not functions of a technique: configuration readers with no argument to get wrong.
NO_ARGUMENTS = ("quick_mode", "max_steps", "current_style", "composite_names", "supported_layers", "character_net")
# Deprecated aliases kept working; their rows are the rows of the name they forward to.
ALIASES = {"render": "render_objective"}
# Submodules whose documented names count as public (kv.<module>.<name> written in the README).
SUBMODULES = ("widgets", "testing", "plotting", "lrp_rules")


def _top_level_names() -> list[str]:
    names = getattr(kv, "__all__", None)
    if names is None:
        names = [n for n in dir(kv) if not n.startswith("_")]
    out = []
    for name in names:
        obj = getattr(kv, name, None)
        if obj is None or inspect.ismodule(obj) or not callable(obj):
            continue
        if not getattr(obj, "__module__", "").startswith("kerasviz"):
            continue
        if inspect.isclass(obj) and name not in USER_CLASSES:
            continue
        if name in NO_ARGUMENTS:
            continue
        out.append(name)
    return out


def _documented_submodule_names() -> list[str]:
    docs = [README, *sorted((README.parent / "docs").glob("*.md"))]
    text = "\n".join(p.read_text(encoding="utf-8") for p in docs if p.exists())
    found = set()
    for module, name in re.findall(r"\b(?:kv|kerasviz)\.(" + "|".join(SUBMODULES) + r")\.([A-Za-z_]\w*)", text):
        holder = getattr(kv, module, None)
        if holder is not None and callable(getattr(holder, name, None)):
            found.add(f"{module}.{name}")
    # kv.testing.unchanged is how users check their own code (README "Nothing changes").
    for name in ("unchanged",):
        if callable(getattr(kv.testing, name, None)):
            found.add(f"testing.{name}")
    return sorted(found)


def public_callables() -> dict[str, object]:
    """Public name -> callable, for every name a user of the README can call with arguments."""
    surface = {name: getattr(kv, name) for name in _top_level_names()}
    for dotted in _documented_submodule_names():
        module, name = dotted.split(".")
        surface[dotted] = getattr(getattr(kv, module), name)
    return dict(sorted(surface.items()))


def bad_input_files() -> list[pathlib.Path]:
    return sorted(TESTS.glob("test_bad_inputs_*.py"))


def _references(tree: ast.AST, public: set[str]) -> list[str]:
    """Public names a module's tables and tests refer to (imports themselves not counted)."""
    imported: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kerasviz"):
            sub = node.module.split(".")[1] if "." in node.module else ""
            for alias in node.names:
                dotted = f"{sub}.{alias.name}" if f"{sub}.{alias.name}" in public else alias.name
                if dotted in public:
                    imported[alias.asname or alias.name] = dotted
    refs: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain = []
            cur = node
            while isinstance(cur, ast.Attribute):
                chain.append(cur.attr)
                cur = cur.value
            if isinstance(cur, ast.Name) and cur.id == "kv" and chain:
                chain.reverse()  # kv.widgets.Explorer -> ["widgets", "Explorer"]
                dotted = ".".join(chain[:2])
                if dotted in public:
                    refs.append(dotted)
                elif chain[0] in public and len(chain) == 1:
                    refs.append(chain[0])
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in imported:
            refs.append(imported[node.id])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in public:
            refs.append(node.value)
    return refs


def rows_per_function() -> dict[str, int]:
    """Public name -> number of references in the bad-input tables (0 means no row)."""
    public = set(public_callables())
    counts = dict.fromkeys(public, 0)
    for path in bad_input_files():
        for name in _references(ast.parse(path.read_text(encoding="utf-8")), public):
            counts[name] += 1
    for alias, target in ALIASES.items():
        if alias in counts and target in counts:
            counts[alias] = counts[alias] or counts[target]
    return counts
