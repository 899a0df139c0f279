"""Per-cell wall-clock times of executed notebooks, read from nbclient's timestamps (before cleaning).

    jupyter nbconvert --to notebook --execute --inplace notebooks/03_attribution.ipynb
    python tools/notebook_times.py notebooks/03_attribution.ipynb     # then tools/clean_notebook.py

Prints, per notebook, its total and every code cell that took over a second (index, seconds, first line).
"""
import json
import sys
from datetime import datetime


def stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def cell_times(path: str) -> list:
    rows = []
    for index, cell in enumerate(json.load(open(path, encoding="utf-8"))["cells"]):
        ex = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in ex and "shell.execute_reply" in ex:
            seconds = (stamp(ex["shell.execute_reply"]) - stamp(ex["iopub.execute_input"])).total_seconds()
            first = "".join(cell["source"]).strip().splitlines()[0] if cell["source"] else ""
            rows.append((index, seconds, first))
    return rows


if __name__ == "__main__":
    for path in sys.argv[1:]:
        rows = cell_times(path)
        if not rows:
            print(f"{path}: no execution timestamps (already cleaned?)")
            continue
        print(f"{path}: {sum(s for _, s, _ in rows):.0f} s in {len(rows)} code cells")
        for index, seconds, first in rows:
            if seconds >= 1:
                print(f"  cell {index:3d} {seconds:7.1f} s  {first[:70]}")
