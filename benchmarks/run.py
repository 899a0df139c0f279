"""Run kerasviz benchmarks and print the figures measured in this run.

    python benchmarks/run.py                 # every benchmark
    python benchmarks/run.py activations     # those whose name contains "activations"
    python benchmarks/run.py --list

Each `benchmarks/bench_*.py` module defines `BENCHMARKS = {name: function}`;
a function takes no argument and returns a list of `_timing.row(...)` dicts.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pathlib
import platform
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def discover() -> dict:
    found = {}
    for path in sorted(HERE.glob("bench_*.py")):
        module = importlib.import_module(path.stem)
        found.update(getattr(module, "BENCHMARKS", {}))
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="substrings of benchmark names to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list benchmark names and exit")
    args = parser.parse_args(argv)
    benchmarks = discover()
    if args.list:
        print("\n".join(benchmarks))
        return 0
    chosen = {n: f for n, f in benchmarks.items() if not args.names or any(s in n for s in args.names)}
    if not chosen:
        print(f"no benchmark matches {args.names}; --list shows them", file=sys.stderr)
        return 2
    import tensorflow as tf

    print(
        f"# machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, TF {tf.__version__}"
    )
    for name, fn in chosen.items():
        print(f"\n## {name}")
        for r in fn():
            value = f"{r['value']:.3g}" if isinstance(r["value"], float) else str(r["value"])
            extra = "  ".join(x for x in (f"target {r['target']}" if r["target"] else "", r["note"]) if x)
            print(f"  {r['name']:<52} {value:>10} {r['unit']:<4} {extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
