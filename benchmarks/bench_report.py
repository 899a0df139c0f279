"""`kerasviz inspect` in full mode on the 4 sample photos: the report before and after, measured in one run.

    python benchmarks/run.py report                 # via the runner
    python benchmarks/bench_report.py [--repeat 2]  # alone, with a per-section table

"before" (today's float32 path) is the single-size filter maximization on the user's model as it is
(every step of the 128-px images resized to a 224 x 224 forward and backward
pass for VGG16); "after" reads the images at the 128 px shown, on an
open-size view of the same model, the first half of the steps at 64 px
(`report/featurevis_plan.py`), in float32; "after, auto" is the same with the
report's default precision (bfloat16 filter maximization where the CPU runs it
natively; run without TF_ENABLE_ONEDNN_OPTS=0 for it). Everything else is the same: the same untrained VGG16 (seed 0), photos, predicted
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

    # Copies of the same seeded network, so that no variant reuses another's compiled functions.
    before = prepare_inspection(kv.load_vgg16(weights=None), None, quick=False, precision="float32")
    before = dataclasses.replace(before, settings=dataclasses.replace(before.settings, octaves=1, open_size=False))
    after = prepare_inspection(kv.load_vgg16(weights=None), None, quick=False, precision="float32")
    auto = prepare_inspection(kv.load_vgg16(weights=None), None, quick=False, precision="auto")
    return {"before": before, "after": after, "after, auto": auto}


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
                results[name].update(
                    seconds=seconds,
                    sections={s.id[8:]: s.seconds for s in sections},
                    scores=data["featurevis"]["scores"],
                    precision=data["featurevis"]["precision"],
                )
    return results


def bench_report(repeat: int = 1) -> list[dict]:
    results = measure(repeat)
    before = results["before"]
    rows = [
        row("report, full mode, 4 photos: before (s)", before["seconds"], "s", note=f"load {os.getloadavg()[0]:.1f}")
    ]
    for name in ("after", "after, auto"):
        after = results[name]
        rows += [
            row(f"report: {name} (s)", after["seconds"], "s", note=f"filter maximization in {after['precision']}"),
            row(f"speed-up, whole report, {name}", before["seconds"] / after["seconds"], "x", target=">= 1.6"),
            row(f"speed-up, first run (with traces), {name}", before["cold"] / after["cold"], "x"),
            row(
                f"speed-up, filter maximization section, {name}",
                before["sections"]["featurevis"] / after["sections"]["featurevis"],
                "x",
            ),
        ]
        for layer, old in before["scores"].items():
            new = after["scores"][layer]
            rows.append(
                row(
                    f"objective {name} / before, {layer}",
                    float(np.mean(new) / np.mean(old)),
                    "",
                    note=f"per filter {np.round(new / old, 2).tolist()}",
                )
            )
    return rows


BENCHMARKS = {"report": bench_report}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, help="alternating rounds; each variant keeps its best")
    args = parser.parse_args(argv)
    results = measure(args.repeat)
    print(f"{'section':<14}" + "".join(f"{name:>14}" for name in results))
    for key in results["before"]["sections"]:
        print(f"{key:<14}" + "".join(f"{r['sections'][key]:>13.1f}s" for r in results.values()))
    print(f"{'total':<14}" + "".join(f"{r['seconds']:>13.1f}s" for r in results.values()))
    print(f"{'first run':<14}" + "".join(f"{r['cold']:>13.1f}s" for r in results.values()))
    print(f"{'precision':<14}" + "".join(f"{r['precision']:>14}" for r in results.values()))
    before = results["before"]
    for name in ("after", "after, auto"):
        after = results[name]
        print(
            f"{name}: speed-up {before['seconds'] / after['seconds']:.2f}x, first run "
            f"{before['cold'] / after['cold']:.2f}x (load {os.getloadavg()[0]:.1f})"
        )
    for layer, old in before["scores"].items():
        print(
            f"objective {layer}: before {np.round(old, 3).tolist()}  "
            + "  ".join(f"{n} {np.round(results[n]['scores'][layer], 3).tolist()}" for n in ("after", "after, auto"))
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
