"""The `kerasviz` command: `kerasviz inspect` writes one HTML report, no Jupyter needed.

    kerasviz inspect                          # VGG16 on the offline sample photos
    kerasviz inspect --model my_model.keras photos/ cat.jpg -o report.html
    kerasviz inspect --model lenet --quick    # the MNIST LeNet (needs $KERASVIZ_MNIST)

Errors a user can fix (unreadable image, empty folder, bad model file, unknown
model name) print one line and exit with status 1; `KERASVIZ_DEBUG=1` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

MODEL_NAMES = ("vgg16", "lenet")
MODEL_EXTENSIONS = (".keras", ".h5", ".hdf5")
DEBUG_ENV = "KERASVIZ_DEBUG"


class CommandError(Exception):
    """A problem the user can fix; printed as one line."""


@dataclass
class LoadedModel:
    """A model with what the report needs to feed and label it."""

    model: object
    preprocess: object = None                 # RGB [0, 1] -> model input (None: automatic)
    class_names: Optional[list] = None
    default_images: Optional[Callable] = None  # count -> (photos, names) when no images are given
    notes: list = field(default_factory=list)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kerasviz", description="See what a CNN has learned, without Jupyter.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    inspect = commands.add_parser(
        "inspect", help="write one self-contained HTML report on a model and a few images",
        description="Write one self-contained HTML report: model summary, prediction, activations per block, "
                    "first-layer filters, filter maximization, saliency / integrated gradients / Grad-CAM / occlusion.")
    inspect.add_argument("images", nargs="*", help="image files and/or folders (default: the offline sample photos; "
                                                   "for lenet, MNIST test digits)")
    inspect.add_argument("--model", default="vgg16", help="vgg16 (default; untrained if ImageNet weights cannot be "
                                                          "had), lenet, or a saved .keras / .h5 model file")
    inspect.add_argument("-o", "--output", default="kerasviz-report.html", help="the HTML file (default: %(default)s)")
    inspect.add_argument("--layers", action="append", help="layers for activations and filter maximization, comma "
                                                           "separated or repeated (default: the last conv of each block)")
    inspect.add_argument("--filters", type=_positive, help="filters maximized per layer (default 4; quick 2) on the first, "
                                                               "middle and last block (or every --layers layer)")
    inspect.add_argument("--steps", type=_positive, help="filter-maximization steps (default 32; quick 8)")
    inspect.add_argument("--top", type=_positive, default=5, help="classes listed per image (default: %(default)s)")
    inspect.add_argument("--max-images", type=_positive, default=8, help="use at most this many images (default: %(default)s)")
    inspect.add_argument("--quick", action="store_true", help="small settings for a fast look (also KERASVIZ_QUICK=1)")
    return parser


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def _load_vgg16() -> LoadedModel:
    import kerasviz as kv

    try:
        return LoadedModel(kv.load_vgg16())
    except kv.WeightsUnavailableError as err:
        first = str(err).split(". kerasviz never")[0]
        print(f"kerasviz inspect: {first}. Using an UNTRAINED VGG16 (random weights), labelled as such; "
              f"set ${kv.data.VGG16_WEIGHTS_ENV} to the weights file for real results.", file=sys.stderr)
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
        raise CommandError(f"--model lenet needs MNIST: set ${kv.data.MNIST_ENV} to an MNIST .npz "
                           f"(Keras' mnist.npz, or arrays x (N, 28, 28) uint8 and y) ({_one_line(err)[:200]})") from None
    mean = trained.mean
    return LoadedModel(trained.model, preprocess=lambda grey: 255.0 * grey - mean,
                       class_names=[str(d) for d in range(10)], default_images=_mnist_digits)


def _load_file(path: str) -> LoadedModel:
    if os.path.isdir(path):
        raise CommandError(f"model path {path!r} is a folder (a TensorFlow SavedModel?); save the Keras model as one "
                           "file with model.save('model.keras')")
    if not os.path.isfile(path):
        raise CommandError(f"model file {path!r} does not exist")
    if not path.lower().endswith(MODEL_EXTENSIONS):
        raise CommandError(f"unsupported model file {path!r}: expected a Keras model saved as .keras (or legacy .h5)")
    import keras

    import kerasviz as kv

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as err:  # Keras raises many types for a corrupt or foreign file
        raise CommandError(f"cannot load model {path!r}: {type(err).__name__}: {_one_line(err)[:300]}") from None
    if not isinstance(model, keras.Model):
        raise CommandError(f"{path!r} holds a {type(model).__name__}, not a Keras model")
    if not kv.weights_label(model):
        kv.set_weights_label(model, f"weights from {os.path.basename(path)}")
    return LoadedModel(model)


def check_model_spec(spec: str) -> None:
    """Reject an unknown model name before anything slow happens."""
    if spec.lower() in MODEL_NAMES or os.path.exists(spec) or spec.lower().endswith(MODEL_EXTENSIONS):
        return
    raise CommandError(f"unknown model {spec!r}: use one of {', '.join(MODEL_NAMES)}, or a path to a saved .keras file")


def load_model(spec: str) -> LoadedModel:
    """`vgg16`, `lenet` or a model file -> `LoadedModel` (CommandError on failure)."""
    check_model_spec(spec)
    if spec.lower() == "vgg16" and not os.path.exists(spec):
        return _load_vgg16()
    if spec.lower() == "lenet" and not os.path.exists(spec):
        return _load_lenet()
    return _load_file(spec)


def _layers(values: Optional[Sequence[str]]) -> Optional[list[str]]:
    names = [n.strip() for v in values or [] for n in v.split(",") if n.strip()]
    return names or None


def inspect(args: argparse.Namespace) -> str:
    """Run `kerasviz inspect` for parsed arguments; returns the report path."""
    if args.quick:
        os.environ["KERASVIZ_QUICK"] = "1"  # also caps steps inside the techniques
    check_model_spec(args.model)
    from kerasviz.report.photos import ImageReadError, read_photos

    photos, names = None, None
    if args.images:
        try:
            photos, names = read_photos(args.images, limit=args.max_images)
        except ImageReadError as err:
            raise CommandError(str(err)) from None
    import kerasviz as kv
    from kerasviz.report import inspect_report

    quick = args.quick or kv.quick_mode()
    loaded = load_model(args.model)
    if photos is None and loaded.default_images is not None:
        photos, names = loaded.default_images(min(args.max_images, 2 if quick else 4))
    try:
        return inspect_report(loaded.model, photos, args.output, names=names, preprocess=loaded.preprocess,
                              class_names=loaded.class_names, layers=_layers(args.layers), filters=args.filters,
                              steps=args.steps, top=args.top, quick=quick)
    except (kv.LayerNotFoundError, ValueError, TypeError, kv.UnsupportedModelError) as err:
        raise CommandError(_one_line(err)) from None


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the `kerasviz` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    try:
        path = inspect(args)
    except KeyboardInterrupt:
        print("kerasviz inspect: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if os.environ.get(DEBUG_ENV):
            raise
        what = "" if isinstance(err, CommandError) else f"{type(err).__name__}: "
        print(f"kerasviz inspect: error: {what}{_one_line(err)}", file=sys.stderr)
        return 1
    print(f"kerasviz inspect: wrote {path} in {time.perf_counter() - start:.1f} s")
    return 0
