"""Clean executed notebooks for committing, and refuse the ones a reader should not see.

    python tools/clean_notebook.py notebooks/*.ipynb

Removes what only made sense in the live kernel: widget state (each widget keeps its text fallback),
execution timestamps, outputs left empty by a progress bar that cleared itself, and Keras'
"Downloading data from <url>" line before a download that failed (the failure message that follows
says what happened). Keeps outputs and execution counts (nbval needs counts for cells with outputs).

Exits with status 1, naming the notebook and cell, when a notebook has anything that must be fixed at
its source rather than cleaned away: stderr output (TensorFlow logs, warnings), an error, a figure
saved as text only, an absolute path, a raw widget repr or a frozen progress bar.
"""
import json
import os
import re
import sys

HOME = os.path.expanduser("~")
DOWNLOAD = re.compile(r"^Downloading data from https?://\S+\n?", re.M)
WIDGET_REPR = re.compile(r"^[A-Za-z]*(Explorer|Box|Tab)\(children=")
PROGRESS = re.compile(r"\d+%\|")


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _empty(output: dict) -> bool:
    """A display output with nothing left in it (a progress bar that emptied itself when done)."""
    if output["output_type"] == "stream":
        return not _text(output["text"]).strip()
    if output["output_type"] != "display_data":
        return False
    return all(not _text(v).strip() for k, v in output.get("data", {}).items() if not k.startswith("image/"))\
        and not any(k.startswith("image/") for k in output.get("data", {}))


def clean(path: str) -> list:
    nb = json.load(open(path, encoding="utf-8"))
    nb.get("metadata", {}).pop("widgets", None)
    problems = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        where = f"{path} cell {index}"
        cell.setdefault("metadata", {}).pop("execution", None)
        outputs = []
        for o in cell.get("outputs", []):
            if o["output_type"] == "stream" and o["name"] == "stdout":
                o["text"] = DOWNLOAD.sub("", _text(o["text"]))
            if _empty(o):
                continue
            outputs.append(o)
            if o["output_type"] == "stream" and o["name"] == "stderr":
                problems.append(f"{where}: stderr output (fix its cause): {_text(o['text'])[:160]!r}")
            if o["output_type"] == "error":
                problems.append(f"{where}: error output {o['ename']}")
            data = o.get("data", {})
            plain = _text(data.get("text/plain", ""))
            if "<Figure size" in plain and not any(k.startswith("image/") for k in data):
                problems.append(f"{where}: a figure was saved as text only (execute with the inline backend: unset MPLBACKEND)")
            if WIDGET_REPR.match(plain):
                problems.append(f"{where}: a raw widget repr was saved: {plain[:80]!r}")
            if PROGRESS.search(plain) or PROGRESS.search(_text(o.get("text", ""))):
                problems.append(f"{where}: a progress bar was saved: {plain[:80]!r}")
            text = json.dumps(o)
            if re.search(r"/work/|/tmp/|/root/|" + re.escape(HOME), text):
                problems.append(f"{where}: absolute path in an output: {text[:120]}")
        cell["outputs"] = outputs
    json.dump(nb, open(path, "w", encoding="utf-8"), indent=1, ensure_ascii=False)
    open(path, "a", encoding="utf-8").write("\n")
    return problems


if __name__ == "__main__":
    issues = [p for path in sys.argv[1:] for p in clean(path)]
    print("\n".join(issues) or f"cleaned {len(sys.argv) - 1} notebook(s)")
    sys.exit(1 if issues else 0)
