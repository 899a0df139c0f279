"""Type-check ratchet: mypy on kerasviz/ may not report more errors than the committed baseline.

    python tools/mypy_ratchet.py            # check (what .ci/run does)
    python tools/mypy_ratchet.py --update   # rewrite mypy-baseline.txt after fixing errors

The baseline counts errors per (file, error code), so moving code around does not break it but a
new error in a file does. When a check finds fewer errors than the baseline it says so: run
`--update` and commit the smaller baseline, so the count only goes down.
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
BASELINE = ROOT / "mypy-baseline.txt"
ERROR = re.compile(r"^(?P<file>[^:]+):\d+(?::\d+)?: error: .*\[(?P<code>[a-z0-9-]+)\]\s*$")


def run_mypy() -> tuple[collections.Counter, str]:
    """Run mypy with the settings in pyproject.toml and count its errors per (file, code)."""
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--no-pretty"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if proc.returncode not in (0, 1):  # 2: mypy itself failed (bad config, crash)
        sys.exit(f"mypy failed to run (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    counts: collections.Counter = collections.Counter()
    for line in proc.stdout.splitlines():
        match = ERROR.match(line)
        if match:
            counts[(match["file"].replace("\\", "/"), match["code"])] += 1
    return counts, proc.stdout


def read_baseline() -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    if BASELINE.exists():
        for line in BASELINE.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                count, file, code = line.split()
                counts[(file, code)] = int(count)
    return counts


def write_baseline(counts: collections.Counter) -> None:
    lines = [
        "# mypy errors allowed per (file, error code); written by `python tools/mypy_ratchet.py --update`.",
        f"# total {sum(counts.values())}",
    ]
    lines += [f"{n} {file} {code}" for (file, code), n in sorted(counts.items())]
    BASELINE.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite the baseline with today's counts")
    args = parser.parse_args(argv)
    counts, output = run_mypy()
    if args.update:
        write_baseline(counts)
        print(f"mypy baseline written: {sum(counts.values())} errors in {BASELINE.name}")
        return 0
    baseline = read_baseline()
    grown = {key: (baseline[key], n) for key, n in counts.items() if n > baseline[key]}
    total, allowed = sum(counts.values()), sum(baseline.values())
    if grown:
        print(output)
        print("mypy: new type errors (file, code: baseline -> now):")
        for (file, code), (was, now) in sorted(grown.items()):
            print(f"  {file} [{code}]: {was} -> {now}")
        print("Fix them (the errors are listed above); the baseline only goes down.")
        return 1
    print(f"mypy: {total} errors, baseline {allowed}: no new errors.")
    if total < allowed:
        print("Fewer errors than the baseline: run `python tools/mypy_ratchet.py --update` and commit it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
