"""`kerasviz inspect` in full mode on the 4 sample photos: the report before and after, measured in one run.

    python benchmarks/run.py report                 # via the runner
    python benchmarks/bench_report.py [--repeat 2]  # alone, with a per-section table

"Before" is the single-size filter maximization on the user's model as it is
(every step of the 128-px images resized to a 224 x 224 forward and backward
pass for VGG16); "after" reads the images at the 128 px shown, on an
open-size view of the same model, the first half of the steps at 64 px
(`report/featurevis_plan.py`). Everything else is the same: the same untrained VGG16 (seed 0), photos, predicted
classes, layers, filters, steps, image sizes and attribution settings. The
two variants alternate (before, after, before, ...) and each keeps its best
time. Quality: the filter-maximization objective each variant reaches, per
layer, on the same filters (the number printed under every tile).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import row  # noqa: E402


def _variants():
    import kerasviz as kv
    from kerasviz.report.build import prepare_inspection

    # Two copies of the same seeded network, so that neither variant reuses the other's compiled functions.
    before = prepare_inspection(kv.load_vgg16(weights=None), None, quick=False)
    before = dataclasses.replace(before, settings=dataclasses.replace(before.settings, octaves=1, open_size=False))
    after = prepare_inspection(kv.load_vgg16(weights=None), None, quick=False)
    return {"before": before, "after": after}


def measure(repeat: int = 1) -> dict:
    """`{variant: {"cold": first run (s), "seconds": best run, "sections": {key: s}, "scores": {layer: (n,)}}}`.

    The first round of each variant includes its traces (what one `kerasviz
    inspect` pays); later rounds reuse them (a notebook calling
    `inspect_report` again).
    """
    from kerasviz.report.build import run_sections

    variants = _variants()
    results = {name: {"seconds": float("inf")} for name in variants}
    for round_ in range(repeat):
        for name, ins in variants.items():
            start = time.perf_counter()
            sections, _, data = run_sections(ins, progress=False)
            seconds = time.perf_counter() - start
            if round_ == 0:
                results[name]["cold"] = seconds
            if seconds < results[name]["seconds"]:
                results[name].update(seconds=seconds, sections={s.id[8:]: s.seconds for s in sections},
                                     scores=data["featurevis"]["scores"])
    return results


def bench_report(repeat: int = 1) -> list[dict]:
    results = measure(repeat)
    before, after = results["before"], results["after"]
    rows = [
        row("report, full mode, 4 photos: before (s)", before["seconds"], "s", note=f"load {os.getloadavg()[0]:.1f}"),
        row("report, full mode, 4 photos: after (s)", after["seconds"], "s"),
        row("speed-up, whole report", before["seconds"] / after["seconds"], "x", target=">= 1.6"),
        row("speed-up, whole report, first run (with traces)", before["cold"] / after["cold"], "x"),
        row("speed-up, filter maximization section",
            before["sections"]["featurevis"] / after["sections"]["featurevis"], "x"),
    ]
    for layer, old in before["scores"].items():
        new = after["scores"][layer]
        rows.append(row(f"objective after / before, {layer}", float(np.mean(new) / np.mean(old)), "",
                        note=f"per filter {np.round(new / old, 2).tolist()}"))
    return rows


BENCHMARKS = {"report": bench_report}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, help="alternating rounds; each variant keeps its best")
    args = parser.parse_args(argv)
    results = measure(args.repeat)
    print(f"{'section':<14}" + "".join(f"{name:>10}" for name in results))
    for key in results["before"]["sections"]:
        print(f"{key:<14}" + "".join(f"{r['sections'][key]:>9.1f}s" for r in results.values()))
    print(f"{'total':<14}" + "".join(f"{r['seconds']:>9.1f}s" for r in results.values()))
    print(f"{'first run':<14}" + "".join(f"{r['cold']:>9.1f}s" for r in results.values()))
    before, after = results["before"], results["after"]
    print(f"speed-up {before['seconds'] / after['seconds']:.2f}x, first run {before['cold'] / after['cold']:.2f}x "
          f"(load {os.getloadavg()[0]:.1f})")
    for layer, old in results["before"]["scores"].items():
        new = results["after"]["scores"][layer]
        print(f"objective {layer}: before {np.round(old, 3).tolist()}  after {np.round(new, 3).tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
