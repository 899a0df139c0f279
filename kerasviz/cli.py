"""The `kerasviz` command: `inspect` writes one HTML report, `doctor` checks a machine for a class.

    kerasviz inspect                          # VGG16 on the offline sample photos
    kerasviz inspect --model my_model.keras photos/ cat.jpg -o report.html --preprocess 0-1
    kerasviz inspect --model lenet --quick    # the MNIST LeNet (needs $KERASVIZ_MNIST)
    kerasviz doctor                           # weights, data, widgets, speed of this machine

This module imports no TensorFlow: `--help`, usage errors and everything that
can be checked on the arguments alone (output path, image files, model file,
class-name file) answer before TensorFlow loads. Run as the command,
`import kerasviz` calls `precheck_command_line()` first for that reason.
Errors a user can fix print one line and exit with status 1;
`KERASVIZ_DEBUG=1` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kerasviz.cli_checks import (  # noqa: F401  (re-exported: the checks were defined here before)
    MODEL_EXTENSIONS,
    MODEL_NAMES,
    CommandError,
    check_images,
    check_layer_names,
    check_model_file,
    check_model_spec,
    check_output_path,
    one_line,
    output_path_problem,
    read_class_names,
)

DEBUG_ENV = "KERASVIZ_DEBUG"
# --preprocess choice -> `preprocess=` of inspect_report (RGB in [0, 1] -> model input)
PREPROCESS_CHOICES = {
    "caffe": "caffe",  # VGG16/19, ResNet50: BGR, 0-255 minus the ImageNet mean
    "tf": "tf",  # MobileNet, Inception, Xception: [-1, 1]
    "torch": "torch",  # DenseNet, torchvision ports: [0, 1] minus mean over std
    "0-1": (0.0, 1.0),  # RGB in [0, 1]
    "0-255": (0.0, 255.0),  # RGB in [0, 255] (models starting with Rescaling(1/255))
}


@dataclass
class LoadedModel:
    """A model with what the report needs to feed and label it."""

    model: object
    preprocess: object = None  # RGB [0, 1] -> model input (None: automatic)
    class_names: list | None = None
    default_images: Callable | None = None  # count -> (photos, names) when no images are given
    notes: list = field(default_factory=list)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("kerasviz")
    except Exception:  # running from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kerasviz", description="See what a CNN has learned, without Jupyter.")
    parser.add_argument("--version", action="version", version=f"kerasviz {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    inspect = commands.add_parser(
        "inspect",
        help="write one self-contained HTML report on a model and a few images",
        description="Write one self-contained HTML report: model summary, prediction, activations per block, "
        "first-layer filters, filter maximization, saliency / integrated gradients / Grad-CAM / occlusion. "
        "A flag you give is always used; --quick only changes the defaults.",
    )
    inspect.add_argument(
        "images",
        nargs="*",
        help="image files and/or folders (default: the offline sample photos; for lenet, MNIST test digits)",
    )
    inspect.add_argument(
        "--model",
        default="vgg16",
        help="vgg16 (default; untrained if ImageNet weights cannot be had), lenet, or a saved .keras / .h5 model file",
    )
    inspect.add_argument("-o", "--output", default="kerasviz-report.html", help="the HTML file (default: %(default)s)")
    inspect.add_argument(
        "--layers",
        action="append",
        help="layers for activations and filter maximization, comma "
        "separated or repeated (default: the last conv of each block)",
    )
    inspect.add_argument(
        "--filters",
        type=_positive,
        help="filters maximized per layer (default 4; --quick 2) on the "
        "first, middle and last block (or every --layers layer)",
    )
    inspect.add_argument("--steps", type=_positive, help="filter-maximization steps (default 32; --quick 8)")
    inspect.add_argument("--top", type=_positive, default=5, help="classes listed per image (default: %(default)s)")
    inspect.add_argument(
        "--max-images", type=_positive, default=8, help="use at most this many images (default: %(default)s)"
    )
    inspect.add_argument(
        "--preprocess",
        choices=sorted(PREPROCESS_CHOICES),
        metavar="{caffe,tf,torch,0-1,0-255}",
        help="how RGB photos become model input: caffe (BGR minus the ImageNet mean), tf ([-1, 1]), "
        "torch (ImageNet mean/std), 0-1, 0-255 (default: per model family; vgg16 caffe)",
    )
    inspect.add_argument("--classes", metavar="FILE", help="a text file with one class name per line, in output order")
    inspect.add_argument(
        "--precision",
        choices=("auto", "float32", "bfloat16"),
        default="auto",
        help="filter maximization's compute precision: auto (bfloat16 where this CPU runs it "
        "natively), float32 or bfloat16 (default: %(default)s); the header says what ran",
    )
    inspect.add_argument(
        "--quick", action="store_true", help="small default settings for a fast look (also KERASVIZ_QUICK=1)"
    )
    doctor = commands.add_parser(
        "doctor",
        help="check what a class needs (weights, MNIST, widgets) and time this machine",
        description="Check ImageNet weights, MNIST, the widget front-end and the browser tools, time one VGG16 "
        "forward/backward pass here, and print the expected time of the notebooks' heavy cells.",
    )
    doctor.add_argument("--no-timing", action="store_true", help="skip the VGG16 timing (checks only)")
    return parser


def check_arguments(args: argparse.Namespace) -> None:
    """Everything that can be checked without TensorFlow; raises CommandError."""
    if args.command != "inspect":
        return
    check_model_spec(args.model)
    check_layer_names(args.model, _layers(args.layers))
    check_output_path(args.output)
    if args.classes:
        read_class_names(args.classes)
    if args.images:
        check_images(args.images, args.max_images)


def _running_as_command() -> bool:
    """True while kerasviz is imported to run `kerasviz ...` or `python -m kerasviz ...`."""
    script = os.path.basename(sys.argv[0] if sys.argv else "")
    if script in ("kerasviz", "kerasviz.exe", "kerasviz-script.py"):
        return True
    if sys.argv[:1] != ["-m"]:  # Python sets argv[0] to "-m" only while it imports the module given to -m
        return False
    original = list(getattr(sys, "orig_argv", []))
    return "-mkerasviz" in original or any(a == "-m" and b == "kerasviz" for a, b in zip(original, original[1:]))


def _fail(err: BaseException, command: str = "kerasviz") -> int:
    what = "" if isinstance(err, CommandError) else f"{type(err).__name__}: "
    print(f"{command}: error: {what}{one_line(err)}", file=sys.stderr)
    return 1


def precheck_command_line() -> None:
    """As the `kerasviz` command, answer --help, usage errors and argument errors before TensorFlow loads.

    Does nothing in any other process. Exits (0 for --help, 2 for a usage
    error, 1 for a bad path or file) when the command would fail anyway.
    """
    if not _running_as_command() or os.environ.get(DEBUG_ENV):
        return
    args = build_parser().parse_args(sys.argv[1:])  # --help, --version and usage errors exit here
    try:
        check_arguments(args)
    except CommandError as err:
        raise SystemExit(_fail(err, f"kerasviz {args.command}")) from None
    except Exception:  # anything unexpected is reported by main(), on one line, after the import
        return


# --- models ------------------------------------------------------------------------------------------


def _load_vgg16() -> LoadedModel:
    import kerasviz as kv

    try:
        return LoadedModel(kv.load_vgg16())
    except kv.WeightsUnavailableError as err:
        first = str(err).split(". kerasviz never")[0]
        print(
            f"kerasviz inspect: {first}. Using an UNTRAINED VGG16 (random weights, seed 0), labelled as such; "
            f"set ${kv.loaders.VGG16_WEIGHTS_ENV} to the weights file for real results.",
            file=sys.stderr,
        )
        return LoadedModel(kv.load_vgg16(weights=None), notes=["ImageNet weights unavailable: untrained VGG16"])


def _mnist_digits(count: int):
    import numpy as np

    import kerasviz as kv

    _, (x_test, y_test) = kv.load_mnist()
    picks = [int(np.flatnonzero(y_test == c)[0]) for c in np.unique(y_test)[:count]]
    return [x_test[i] for i in picks], [f"test digit {int(y_test[i])}" for i in picks]


def _load_lenet() -> LoadedModel:
    import kerasviz as kv

    try:
        trained = kv.load_trained_lenet()
    except kv.DatasetUnavailableError as err:
        raise CommandError(
            f"--model lenet needs MNIST: set ${kv.loaders.MNIST_ENV} to an MNIST .npz "
            f"(Keras' mnist.npz, or arrays x (N, 28, 28) uint8 and y) ({one_line(err)[:200]})"
        ) from None
    mean = trained.mean
    return LoadedModel(
        trained.model,
        preprocess=lambda grey: 255.0 * grey - mean,
        class_names=[str(d) for d in range(10)],
        default_images=_mnist_digits,
    )


def _load_file(path: str) -> LoadedModel:
    check_model_file(path)
    import keras

    import kerasviz as kv

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as err:  # a valid archive Keras still cannot rebuild (custom layers, newer format)
        raise CommandError(f"cannot load model {path!r}: {type(err).__name__}: {one_line(err)[:300]}") from None
    if not isinstance(model, keras.Model):
        raise CommandError(f"{path!r} holds a {type(model).__name__}, not a Keras model")
    if not kv.weights_label(model):
        kv.set_weights_label(model, f"weights from {os.path.basename(path)}")
    return LoadedModel(model)


def load_model(spec: str) -> LoadedModel:
    """`vgg16`, `lenet` or a model file -> `LoadedModel` (CommandError on failure)."""
    check_model_spec(spec)
    if spec.lower() == "vgg16" and not os.path.exists(spec):
        return _load_vgg16()
    if spec.lower() == "lenet" and not os.path.exists(spec):
        return _load_lenet()
    return _load_file(spec)


def _layers(values: Sequence[str] | None) -> list[str] | None:
    names = [n.strip() for v in values or [] for n in v.split(",") if n.strip()]
    return names or None


def _say(text: str) -> None:
    print(f"kerasviz inspect: {text}", file=sys.stderr, flush=True)


def inspect(args: argparse.Namespace) -> str:
    """Run `kerasviz inspect` for parsed arguments; returns the report path."""
    check_arguments(args)
    from kerasviz._config import quick_mode
    from kerasviz.core.errors import ImageReadError
    from kerasviz.imagefiles import read_photos

    quick = args.quick or quick_mode()
    classes = read_class_names(args.classes) if args.classes else None
    photos, names = None, None
    if args.images:
        _say("reading images")
        try:
            photos, names = read_photos(args.images, limit=args.max_images)  # large photos shrink while decoding
        except ImageReadError as err:
            raise CommandError(str(err)) from None
    _say(f"loading model {args.model}")
    import kerasviz as kv
    from kerasviz.report import inspect_report

    loaded = load_model(args.model)
    if photos is None and loaded.default_images is not None:
        photos, names = loaded.default_images(min(args.max_images, 2 if quick else 4))
    preprocess = PREPROCESS_CHOICES[args.preprocess] if args.preprocess else loaded.preprocess
    try:
        return inspect_report(
            loaded.model,
            photos,
            args.output,
            names=names,
            preprocess=preprocess,
            class_names=classes or loaded.class_names,
            layers=_layers(args.layers),
            filters=args.filters,
            steps=args.steps,
            top=args.top,
            quick=quick,
            strict=True,
            precision=args.precision,
            notes=loaded.notes + ([f"preprocessing: --preprocess {args.preprocess}"] if args.preprocess else []),
        )
    except kv.KerasvizError as err:
        raise CommandError(one_line(err)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kerasviz` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    command = f"kerasviz {args.command}"
    try:
        if args.command == "doctor":
            from kerasviz.doctor import doctor

            return doctor(timing=not args.no_timing)
        path = inspect(args)
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if os.environ.get(DEBUG_ENV):
            raise
        return _fail(err, command)
    print(f"kerasviz inspect: wrote {path} in {time.perf_counter() - start:.1f} s")
    return 0
