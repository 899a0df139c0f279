"""Hostile audit of every public function: bad inputs and unusual models, each outcome classified.

    PYTHONPATH=$PWD python tools/audit_edges.py [--workers 2] [--timeout 90] [--json audit.json]
    PYTHONPATH=$PWD python tools/audit_edges.py --only saliency,grad_cam --shapes functional

Two sweeps (cases built from the public signatures, see tools/audit_cases.py):
- bad values: on a small functional CNN, every public callable with each of its arguments replaced
  by every bad value of that argument's class (wrong type, shape or rank, NaN/inf, out of range,
  unknown layer or choice, empty, wrong output/input);
- model shapes: every function taking a model, called as a user would, on a Sequential, nested
  transfer, multi-output, multi-input, channels_first, 1-D, subclassed, 1x1 and mixed_float16 model.

Each call runs in a worker process watched by this one: a call that runs past --timeout or grows
past --memory GB is a hang, a worker that dies is a crash (the worker is restarted after that case).
Outcomes: clear (a KerasvizError, naming the argument for a bad value), raw (any other exception, or
framework text in the message), silent (a bad value accepted; NaN/Inf in the result; a map not at
the input's positions; a multi-output model explained without `output=`; the model or global state
changed), hang, crash, ok. Prints the counts per outcome and every failure; exits 1 if any.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pathlib
import select
import subprocess
import sys
import tempfile
import time

TOOLS = pathlib.Path(__file__).resolve().parent
ROOT = TOOLS.parent
RAW_MARKERS = (
    "Traceback",
    "tensorflow.python",
    "InvalidArgumentError:",
    "node ",
    "Graph execution error",
    "autograph",
    "tf.Tensor(",
    "numpy.core",
    "sklearn",
)
FAILURES = ("raw", "silent", "hang", "crash")


def _setup_path():
    for p in (str(TOOLS), str(ROOT / "tests"), str(ROOT)):
        if p not in sys.path:
            sys.path.insert(0, p)


def enumerate_cases(only=None, shapes=None) -> list[tuple]:
    """(shape, function, argument or None, label) in a fixed order."""
    _setup_path()
    import audit_cases as ac
    from _surface import public_callables

    surface = {k: v for k, v in public_callables().items() if only is None or k in only}
    wanted = ac.build_shapes(shapes)
    cases = []
    if "functional" in wanted:
        ctx = wanted["functional"]()
        for name, fn in surface.items():
            for arg in ac.parameters(fn):
                for label, _, _ in ac.bad_values_for(fn, arg, ctx):
                    cases.append(("functional", name, arg, label))
    for shape in wanted:
        for name, fn in surface.items():
            if ac.parameters(fn)[:1] == ["model"] and shape != "functional":
                cases.append((shape, name, None, "as is"))
    return cases


# ----------------------------------------------------------------------------------------------- worker
def _global_state():
    import random

    import keras
    import matplotlib
    import numpy as np

    return (
        keras.config.dtype_policy().name,
        keras.config.floatx(),
        random.getstate(),
        repr(np.random.get_state()[1][:8]) + repr(np.random.get_state()[2:]),
        repr(sorted(matplotlib.rcParams.items())),
    )


def _model_digest(model):
    import hashlib

    digest = hashlib.sha1()
    for w in model.get_weights():
        digest.update(w.tobytes())
    for layer in model.layers:
        digest.update(
            repr((layer.name, getattr(layer, "activation", None), layer.trainable, layer.dtype_policy.name)).encode()
        )
    return digest.hexdigest()


def _arrays(result, depth=0):
    import dataclasses

    import numpy as np

    if depth > 3 or result is None:
        return
    if isinstance(result, np.ndarray):
        if result.dtype.kind == "f":
            yield result
    elif dataclasses.is_dataclass(result) and not isinstance(result, type):
        for f in dataclasses.fields(result):
            yield from _arrays(getattr(result, f.name), depth + 1)
    elif isinstance(result, dict):
        for v in result.values():
            yield from _arrays(v, depth + 1)
    elif isinstance(result, (list, tuple)):
        for v in result[:50]:
            yield from _arrays(v, depth + 1)


def _main_array(result):
    import numpy as np

    try:
        arr = np.asarray(result)
        return arr if arr.dtype.kind == "f" else None
    except Exception:  # noqa: BLE001 - results that are not arrays are not shape-checked
        return None


def run_case(case, ctxs, surface, ac, kv):
    """Call one case; returns (outcome, detail)."""
    import numpy as np

    shape, name, arg, label = case
    ctx = ctxs.setdefault(shape, ac.build_shapes([shape])[shape]())
    fn = surface[name]
    kwargs = ac.good_call(name, fn, ctx)
    if kwargs is None:  # a plot or helper whose inputs come from another call: fill by position
        kwargs = {p: ac.BY_NAME.get(p, lambda c: c.x)(ctx) for p in ac.required(fn)}
    must_refuse = False
    if arg is not None:
        value = {lab: (v, m) for lab, v, m in ac.bad_values_for(fn, arg, ctx)}[label]
        kwargs[arg], must_refuse = value
    model_before = _model_digest(ctx.model)
    state_before = _global_state()
    result, error = None, None
    try:
        result = ac.call(name, fn, kwargs)
    except Exception as err:  # noqa: BLE001 - classified below
        error = err
    finally:
        import matplotlib.pyplot as plt

        plt.close("all")
    if _model_digest(ctx.model) != model_before:
        return "silent", "the model changed"
    if _global_state() != state_before:
        return "silent", "global state changed (policy, floatx, random state or rcParams)"
    if error is not None:
        message = f"{type(error).__name__}: {error}"
        if not isinstance(error, kv.KerasvizError):
            return "raw", message[:400]
        if any(marker in str(error) for marker in RAW_MARKERS):
            return "raw", "framework text in a kerasviz error: " + message[:400]
        if arg is not None and arg not in str(error):
            return "clear", "(names another argument) " + message[:200]
        return "clear", message[:200]
    if must_refuse and (name, arg, label) not in ac.ALLOWED:
        return "silent", f"accepted {arg}={label}"
    for array in [] if name in ac.DOCUMENTED_NAN else _arrays(result):
        if array.size and not np.all(np.isfinite(array)):
            return "silent", f"NaN/Inf in the result ({array.shape})"
    params = ac.parameters(fn)
    if (
        ctx.multi_output
        and "output" in params
        and "output" not in kwargs
        and arg is None
        and name not in ac.NO_OUTPUT_NEEDED
    ):
        return "silent", "multi-output model explained without output="
    if ac.is_map_method(fn) and arg is None:
        arr = _main_array(result)
        if arr is not None and arr.ndim > len(ctx.hw) and not ac.positions_found(arr.shape, ctx.hw):
            return "silent", f"map of shape {arr.shape} for input positions {tuple(ctx.hw)}"
    return "ok", ""


def worker(indices, only, shapes):
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything the library prints goes to stderr; the protocol owns the real stdout
    os.environ.setdefault("KERASVIZ_QUICK", "1")
    _setup_path()
    import matplotlib

    matplotlib.use("Agg")
    import audit_cases as ac
    from _surface import public_callables

    import kerasviz as kv

    cases = enumerate_cases(only, shapes)
    surface = public_callables()
    ctxs = {}
    for i in indices:
        out.write(f"@@S {i}\n")
        try:
            outcome, detail = run_case(cases[i], ctxs, surface, ac, kv)
        except Exception as err:  # noqa: BLE001 - the audit's own setup failing for this case
            outcome, detail = "raw", f"(building the call) {type(err).__name__}: {str(err)[:300]}"
        out.write("@@R " + json.dumps([i, outcome, detail]) + "\n")


# ----------------------------------------------------------------------------------------------- parent
def _rss_gb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def _spawn(todo, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", ",".join(map(str, todo))]
    if args.only:
        cmd += ["--only", args.only]
    if args.shapes:
        cmd += ["--shapes", args.shapes]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    # Functions that write files (a report's default path) write into a scratch folder, not the checkout.
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1, cwd=args.scratch, env=env
    )


def run_all(cases, args):
    results = {}
    queues = [list(range(k, len(cases), args.workers)) for k in range(args.workers)]
    running = {}
    for q in queues:
        if q:
            running[_spawn(q, args)] = {"todo": q, "current": None, "since": time.time()}
    while running:
        for proc, st in list(running.items()):
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            line = proc.stdout.readline() if ready else None
            if line:
                if line.startswith("@@S "):
                    st["current"], st["since"] = int(line.split()[1]), time.time()
                elif line.startswith("@@R "):
                    i, outcome, detail = json.loads(line[4:])
                    results[i] = (outcome, detail)
                    st["todo"].remove(i)
                    st["current"] = None
                    done = len(results)
                    if done % 200 == 0:
                        print(f"  {done}/{len(cases)} calls", file=sys.stderr, flush=True)
                continue
            dead = ready and line == ""
            current = st["current"]
            slow = current is not None and time.time() - st["since"] > args.timeout
            big = current is not None and _rss_gb(proc.pid) > args.memory
            if not (dead or slow or big):
                continue
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            del running[proc]
            if current is not None:
                why = (
                    ("hang", f"no answer after {args.timeout:.0f} s")
                    if slow
                    else (
                        ("hang", f"memory above {args.memory:.0f} GB")
                        if big
                        else ("crash", f"process died ({proc.returncode})")
                    )
                )
                results[current] = why
                st["todo"].remove(current)
            if st["todo"]:
                running[_spawn(st["todo"], args)] = {"todo": st["todo"], "current": None, "since": time.time()}
    return results


def report(cases, results, seconds):
    counts = collections.Counter(outcome for outcome, _ in results.values())
    by_sweep = collections.Counter(
        ("bad values" if c[2] else "model shapes", results[i][0]) for i, c in enumerate(cases)
    )
    print(f"\n{len(cases)} calls in {seconds:.0f} s")
    print(f"{'outcome':<8} {'all':>6} {'bad values':>11} {'model shapes':>13}")
    for outcome in ("clear", "ok", *FAILURES):
        bad, shapes = by_sweep["bad values", outcome], by_sweep["model shapes", outcome]
        print(f"{outcome:<8} {counts[outcome]:>6} {bad:>11} {shapes:>13}")
    failures = sorted((cases[i], results[i]) for i in results if results[i][0] in FAILURES)
    if failures:
        print(f"\n{len(failures)} failures:")
        for (shape, name, arg, label), (outcome, detail) in failures:
            what = f"{arg}={label}" if arg else "as is"
            print(f"  {outcome:<6} {name}({what}) on {shape}: {detail.splitlines()[0][:220] if detail else ''}")
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds per call before it counts as a hang")
    parser.add_argument("--memory", type=float, default=6.0, help="GB of resident memory that counts as runaway")
    parser.add_argument("--only", help="comma-separated public names")
    parser.add_argument("--shapes", help="comma-separated model shapes")
    parser.add_argument("--json", help="write every case and outcome here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    shapes = args.shapes.split(",") if args.shapes else None
    if args.worker is not None:
        worker([int(i) for i in args.worker.split(",") if i], only, shapes)
        return 0
    os.environ.setdefault("KERASVIZ_QUICK", "1")
    start = time.time()
    scratch = tempfile.TemporaryDirectory(prefix="audit_edges_")
    args.scratch = scratch.name
    cases = enumerate_cases(only, shapes)
    print(f"auditing {len(cases)} calls with {args.workers} workers", file=sys.stderr, flush=True)
    results = run_all(cases, args)
    failures = report(cases, results, time.time() - start)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps([[*c, *results[i]] for i, c in enumerate(cases)], indent=0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
