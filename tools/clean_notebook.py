"""Clean executed notebooks for committing: no widget state, no stderr noise, no absolute paths.

    python tools/clean_notebook.py notebooks/*.ipynb

Keeps outputs and execution counts (nbval needs counts for cells with outputs).
"""
import json
import os
import re
import sys

HOME = os.path.expanduser("~")


def clean(path: str) -> list[str]:
    nb = json.load(open(path))
    nb.get("metadata", {}).pop("widgets", None)
    problems = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        cell.setdefault("metadata", {}).pop("execution", None)
        outputs = [o for o in cell.get("outputs", []) if not (o["output_type"] == "stream" and o["name"] == "stderr")]
        for o in outputs:
            if o["output_type"] == "error":
                problems.append(f"{path}: error output {o['ename']}")
            data = o.get("data", {})
            if "<Figure size" in "".join(data.get("text/plain", "")) and not any(k.startswith("image/") for k in data):
                problems.append(f"{path}: a figure was saved as text only (execute with the inline backend: unset MPLBACKEND)")
            text = json.dumps(o)
            if re.search(r"/work/|/tmp/|/root/|" + re.escape(HOME), text):
                problems.append(f"{path}: absolute path in an output: {text[:120]}")
        cell["outputs"] = outputs
    json.dump(nb, open(path, "w"), indent=1, ensure_ascii=False)
    open(path, "a").write("\n")
    return problems


if __name__ == "__main__":
    issues = [p for path in sys.argv[1:] for p in clean(path)]
    print("\n".join(issues) or f"cleaned {len(sys.argv) - 1} notebook(s)")
    sys.exit(1 if issues else 0)
