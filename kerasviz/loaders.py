"""Loaders for VGG16 and MNIST that say what failed, and where their files live.

ImageNet weights and MNIST come from the internet through Keras. Where that
fails (a classroom without network), the loaders say what failed and how to
provide the file; they never substitute random weights silently.
`weights=None` gives an untrained model on purpose, seeded so that every
machine builds the same one, and `weights_label` says "untrained" wherever a
figure is drawn.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import socket

import numpy as np

from kerasviz.core.errors import DatasetUnavailableError, WeightsUnavailableError
from kerasviz.provenance import IMAGENET, UNTRAINED, set_model_family, set_weights_label

VGG16_WEIGHTS_ENV = "KERASVIZ_VGG16_WEIGHTS"
MNIST_ENV = "KERASVIZ_MNIST"
DOWNLOAD_TIMEOUT = 60.0  # seconds without an answer before a download counts as failed
MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"  # what keras.datasets.mnist fetches
VGG16_FILES = {
    True: "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
    False: "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
}  # include_top -> Keras' file name


@contextlib.contextmanager
def download_timeout(seconds: float = DOWNLOAD_TIMEOUT):
    """Bound Keras' downloads (urllib has no timeout): offline they must fail, not hang."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def is_download_failure(err: BaseException) -> bool:
    """Whether an exception from a Keras download means "no network / no answer"."""
    text = str(err).lower()
    return any(
        s in text for s in ("url fetch failure", "name or service", "urlopen", "connection", "http", "timed out")
    )


def keras_home() -> str:
    """Keras' cache folder: `$KERAS_HOME`, else `~/.keras`."""
    return os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))


def vgg16_weights_file(include_top: bool = True) -> str | None:
    """The VGG16 ImageNet weights file kerasviz would use, or None if there is none on this machine.

    Looks at `$KERASVIZ_VGG16_WEIGHTS`, then Keras' cache
    (`$KERAS_HOME/models/vgg16_weights_tf_dim_ordering_tf_kernels[_notop].h5`).
    """
    path = os.environ.get(VGG16_WEIGHTS_ENV)
    if path:
        return path if os.path.isfile(path) else None
    cached = os.path.join(keras_home(), "models", VGG16_FILES[bool(include_top)])
    return cached if os.path.isfile(cached) else None


def mnist_file() -> str | None:
    """The MNIST file `kv.load_mnist()` would read without downloading, or None.

    `$KERASVIZ_MNIST` if it names a file, else Keras' cache (`$KERAS_HOME/datasets/mnist.npz`).
    """
    path = os.environ.get(MNIST_ENV)
    if path:
        return path if os.path.isfile(path) else None
    cached = os.path.join(keras_home(), "datasets", "mnist.npz")
    return cached if os.path.isfile(cached) else None


def can_download(url: str, timeout: float = 5.0) -> tuple[bool, str]:
    """Whether `url` answers a HEAD request within `timeout` seconds: `(answered, what happened)`."""
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout) as response:
            return True, f"HTTP {response.status}"
    except Exception as err:  # DNS failure, refused, timed out, proxy errors
        return False, f"{type(err).__name__}: {' '.join(str(err).split())[:120]}"


@functools.lru_cache(maxsize=1)
def mnist_availability(timeout: float = 5.0) -> tuple[bool, str]:
    """Whether `kv.load_mnist()` can succeed here, and from where (or why not and how to fix it).

    Checked in order: `$KERASVIZ_MNIST`, Keras' cache, a HEAD request to the
    download URL (once per process).

    Returns:
        `(available, explanation)`.
    """
    named = os.environ.get(MNIST_ENV)
    if named:
        if os.path.isfile(named):
            return True, f"${MNIST_ENV}={named}"
        return False, f"${MNIST_ENV}={named} is not a file"
    cached = mnist_file()
    if cached:
        return True, cached
    online, what = can_download(MNIST_URL, timeout)
    if online:
        return True, f"downloadable from {MNIST_URL}"
    return False, (
        f"real MNIST is not available (no ${MNIST_ENV}, no {os.path.join(keras_home(), 'datasets', 'mnist.npz')}, "
        f"and {MNIST_URL} does not answer: {what}); set ${MNIST_ENV}=/path/to/mnist.npz"
    )


def seed_weights(model, seed: int):
    """Re-draw every kernel and bias from its own initializer with a fixed seed; returns `model`.

    Each variable gets the seed `seed + its position`, through the
    initializer's stateless path, so no global random state is read or advanced.
    """
    from kerasviz.core.layers import iter_layers

    position = 0
    for _, layer in iter_layers(model):
        for attr in ("kernel", "bias", "depthwise_kernel", "pointwise_kernel", "embeddings"):
            variable = getattr(layer, attr, None)
            initializer = getattr(layer, attr + "_initializer", None) if variable is not None else None
            if initializer is None or not hasattr(variable, "assign"):
                continue
            config = initializer.get_config()
            if "seed" in config:
                config["seed"] = int(seed) + position
            variable.assign(type(initializer).from_config(config)(tuple(variable.shape), variable.dtype))
            position += 1
    return model


def _weights_help(err: BaseException, include_top: bool) -> str:
    name = VGG16_FILES[bool(include_top)]
    cache = os.path.join(keras_home(), "models")
    return (
        f"Could not download VGG16's ImageNet weights ({err}). kerasviz never substitutes random "
        "weights silently. To fix it, do one of:\n"
        f"  1. on a machine with internet, run kv.load_vgg16() once and copy {cache}/{name} to the "
        "same place here (or point $KERAS_HOME at a folder holding models/" + name + ");\n"
        f"  2. set ${VGG16_WEIGHTS_ENV}=/path/to/{name}, or pass weights='/path/to/{name}';\n"
        "  3. to continue with an untrained network on purpose, call kv.load_vgg16(weights=None) "
        "(figures are then labelled 'untrained')."
    )


def load_vgg16(
    weights: str | None = "imagenet",
    include_top: bool = True,
    input_shape=None,
    logits: bool = False,
    seed: int | None = 0,
):
    """VGG16 from `keras.applications`, with a clear error when weights are missing.

    Args:
        weights: "imagenet" (downloaded once to `$KERAS_HOME/models`, or read
            from the file named by `$KERASVIZ_VGG16_WEIGHTS`), a path to an .h5
            weights file, or None for an untrained model (labelled as such).
        include_top: keep the 3 dense layers and the 1000-way classifier.
        input_shape: `(H, W, 3)` when `include_top=False` (default 224x224).
        logits: build the classifier without softmax. Not needed for kerasviz
            functions, which read logits on a copy anyway.
        seed: with `weights=None`, the seed of the random weights: the same
            seed gives the same network on every machine (None: unseeded).
            Global random state is left as found.

    Returns:
        A `keras.Model` taking caffe-preprocessed BGR input (see `preprocess`).

    Raises:
        WeightsUnavailableError: the ImageNet weights could not be fetched; the
            message says how to provide them.

    Example:
        >>> vgg = kv.load_vgg16()                 # with network or a cached file
        >>> vgg = kv.load_vgg16(weights=None)     # offline: untrained (seed 0), labelled
    """
    import keras

    if weights not in (None, "imagenet") and not (isinstance(weights, str) and os.path.isfile(weights)):
        from kerasviz.core.errors import InvalidArgumentError

        raise InvalidArgumentError(
            f"`weights` must be 'imagenet', None (untrained, labelled as such) or the path of a weights file; "
            f"got {weights!r}."
        )
    if weights == "imagenet" and os.environ.get(VGG16_WEIGHTS_ENV):
        weights = os.environ[VGG16_WEIGHTS_ENV]
    kwargs = dict(include_top=include_top, input_shape=input_shape)
    if include_top:
        kwargs["classifier_activation"] = None if logits else "softmax"
    python_state = random.getstate()  # Keras draws its first global seed from Python's `random`
    try:
        with download_timeout():
            model = keras.applications.VGG16(weights=weights, **kwargs)
    except Exception as err:  # keras raises a bare Exception on "URL fetch failure"
        if weights is None or not is_download_failure(err):
            raise
        raise WeightsUnavailableError(_weights_help(err, include_top)) from err
    finally:
        random.setstate(python_state)
    if weights is None and seed is not None:
        seed_weights(model, seed)
    set_model_family(model, "vgg16")
    return set_weights_label(model, UNTRAINED if weights is None else IMAGENET)


def load_mnist(path: str | None = None, test_size: int = 2000):
    """MNIST as `((x_train, y_train), (x_test, y_test))`, uint8 `(N, 28, 28)` and `(N,)`.

    Args:
        path: an .npz file: either Keras' `mnist.npz` (x_train, y_train,
            x_test, y_test) or a single set (x, y), split into train and a
            stratified test set of `test_size` images. Default:
            `$KERASVIZ_MNIST` if set, else `keras.datasets.mnist.load_data()`
            (downloads once to `$KERAS_HOME/datasets`).
        test_size: test images held out from an (x, y) file.

    Returns:
        `((x_train, y_train), (x_test, y_test))`.

    Raises:
        DatasetUnavailableError: the download failed or the file is missing;
            the message says how to provide the file.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = kv.load_mnist()
    """
    path = path or os.environ.get(MNIST_ENV)
    if path:
        return read_mnist_npz(path, test_size)
    import keras

    try:
        with download_timeout():
            return keras.datasets.mnist.load_data()
    except Exception as err:
        raise DatasetUnavailableError(
            f"Could not download MNIST ({err}). To fix it, do one of:\n"
            "  1. copy mnist.npz (from a machine with internet: ~/.keras/datasets/mnist.npz) to "
            "$KERAS_HOME/datasets/mnist.npz;\n"
            f"  2. set ${MNIST_ENV}=/path/to/file.npz, or call kv.load_mnist(path=...): Keras' mnist.npz, "
            "or an npz with arrays x (N, 28, 28) uint8 and y (N,)."
        ) from err


def read_mnist_npz(path: str, test_size: int = 2000):
    """An MNIST .npz (Keras' 4 arrays, or x and y split here) as `((x_train, y_train), (x_test, y_test))`.

    An (x, y) file is split by a fixed stratified rule: the last
    `test_size / 10` images of each class are the test set.
    """
    if not os.path.exists(path):
        raise DatasetUnavailableError(f"MNIST file {path!r} does not exist (from `path` or ${MNIST_ENV}).")
    with np.load(path) as data:
        if "x_train" in data:
            return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])
        if "x" not in data or "y" not in data:
            raise DatasetUnavailableError(
                f"{path!r} holds {sorted(data)}; expected x_train/y_train/x_test/y_test or x/y."
            )
        x, y = data["x"], data["y"]
    test = np.zeros(len(y), bool)
    per_class = test_size // len(np.unique(y))
    for c in np.unique(y):
        test[np.flatnonzero(y == c)[-per_class:]] = True
    return (x[~test], y[~test]), (x[test], y[test])
