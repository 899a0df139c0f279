"""Real loaders for models and data, offline sample photos, and preprocessing.

ImageNet weights and MNIST come from the internet through Keras. Where that
fails (a classroom without network, our CI), the loaders say what failed and
how to provide the file; they never substitute random weights silently.
`weights=None` gives an untrained model on purpose, and `weights_label` says so
wherever a figure is drawn.
"""

from __future__ import annotations

import contextlib
import os
import socket
import weakref

import keras
import numpy as np

from kerasviz.core.errors import DatasetUnavailableError, ImageReadError, WeightsUnavailableError

VGG16_WEIGHTS_ENV = "KERASVIZ_VGG16_WEIGHTS"
MNIST_ENV = "KERASVIZ_MNIST"

_labels: "weakref.WeakKeyDictionary[keras.Model, str]" = weakref.WeakKeyDictionary()
_families: "weakref.WeakKeyDictionary[keras.Model, str]" = weakref.WeakKeyDictionary()


DOWNLOAD_TIMEOUT = 60.0  # seconds without an answer before a download counts as failed


@contextlib.contextmanager
def _download_timeout(seconds: float = DOWNLOAD_TIMEOUT):
    """Bound Keras' downloads (urllib has no timeout): offline they must fail, not hang."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def weights_label(model: keras.Model) -> str:
    """How a model's weights were obtained, for figure titles.

    Returns "ImageNet weights", "untrained (random weights)", a label set with
    `set_weights_label`, or "" for models kerasviz did not load.
    """
    return _labels.get(model, "")


def set_weights_label(model: keras.Model, label: str) -> keras.Model:
    """Record how `model`'s weights were obtained (shown by plots); returns `model`."""
    _labels[model] = label
    return model


def model_family(model: keras.Model) -> str:
    """The preprocessing family of a model loaded by kerasviz ("vgg16"), else "none"."""
    return _families.get(model, "none")


def takes_bgr(model: keras.Model) -> bool:
    """Whether the model's input channels are BGR (caffe preprocessing: VGG16/19, ResNet50)."""
    return _FAMILY_MODE.get(model_family(model)) == "caffe"


def load_vgg16(weights: str | None = "imagenet", include_top: bool = True, input_shape=None, logits: bool = False):
    """VGG16 from `keras.applications`, with a clear error when weights are missing.

    Args:
        weights: "imagenet" (downloaded once to `$KERAS_HOME/models`, or read
            from the file named by `$KERASVIZ_VGG16_WEIGHTS`), a path to an .h5
            weights file, or None for an untrained model (labelled as such).
        include_top: keep the 3 dense layers and the 1000-way classifier.
        input_shape: `(H, W, 3)` when `include_top=False` (default 224x224).
        logits: build the classifier without softmax. Not needed for kerasviz
            functions, which read logits on a copy anyway.

    Returns:
        A `keras.Model` taking caffe-preprocessed BGR input (see `preprocess`).

    Raises:
        WeightsUnavailableError: the ImageNet weights could not be fetched; the
            message says how to provide them.

    Example:
        >>> vgg = kv.load_vgg16()                 # with network or a cached file
        >>> vgg = kv.load_vgg16(weights=None)     # offline: untrained, labelled
    """
    if weights == "imagenet" and os.environ.get(VGG16_WEIGHTS_ENV):
        weights = os.environ[VGG16_WEIGHTS_ENV]
    kwargs = dict(include_top=include_top, input_shape=input_shape)
    if include_top:
        kwargs["classifier_activation"] = None if logits else "softmax"
    try:
        with _download_timeout():
            model = keras.applications.VGG16(weights=weights, **kwargs)
    except Exception as err:  # keras raises a bare Exception on "URL fetch failure"
        if weights is None or not _is_download_failure(err):
            raise
        cache = os.path.join(os.environ.get("KERAS_HOME", "~/.keras"), "models")
        name = "vgg16_weights_tf_dim_ordering_tf_kernels" + ("" if include_top else "_notop") + ".h5"
        raise WeightsUnavailableError(
            f"Could not download VGG16's ImageNet weights ({err}). kerasviz never substitutes random "
            "weights silently. To fix it, do one of:\n"
            f"  1. on a machine with internet, run kv.load_vgg16() once and copy {cache}/{name} to the "
            "same place here (or point $KERAS_HOME at a folder holding models/" + name + ");\n"
            f"  2. set ${VGG16_WEIGHTS_ENV}=/path/to/{name}, or pass weights='/path/to/{name}';\n"
            "  3. to continue with an untrained network on purpose, call kv.load_vgg16(weights=None) "
            "(figures are then labelled 'untrained')."
        ) from err
    label = "untrained (random weights)" if weights is None else "ImageNet weights"
    _families[model] = "vgg16"
    return set_weights_label(model, label)


def _is_download_failure(err: Exception) -> bool:
    text = str(err).lower()
    return any(s in text for s in ("url fetch failure", "name or service", "urlopen", "connection", "http", "timed out"))


def load_mnist(path: str | None = None, test_size: int = 2000):
    """MNIST as `((x_train, y_train), (x_test, y_test))`, uint8 `(N, 28, 28)` and `(N,)`.

    Args:
        path: an .npz file: either Keras' `mnist.npz` (x_train, y_train,
            x_test, y_test) or a single set (x, y), split into train and a
            stratified test set of `test_size` images. Default:
            `$KERASVIZ_MNIST` if set, else `keras.datasets.mnist.load_data()`
            (downloads once to `$KERAS_HOME/datasets`).
        test_size: test images held out from an (x, y) file.

    Raises:
        DatasetUnavailableError: the download failed; the message says how to
            provide the file.
    """
    path = path or os.environ.get(MNIST_ENV)
    if path:
        return _load_npz(path, test_size)
    try:
        with _download_timeout():
            return keras.datasets.mnist.load_data()
    except Exception as err:
        raise DatasetUnavailableError(
            f"Could not download MNIST ({err}). To fix it, do one of:\n"
            "  1. copy mnist.npz (from a machine with internet: ~/.keras/datasets/mnist.npz) to "
            "$KERAS_HOME/datasets/mnist.npz;\n"
            f"  2. set ${MNIST_ENV}=/path/to/file.npz, or call kv.load_mnist(path=...): Keras' mnist.npz, "
            "or an npz with arrays x (N, 28, 28) uint8 and y (N,)."
        ) from err


def _load_npz(path: str, test_size: int):
    if not os.path.exists(path):
        raise DatasetUnavailableError(f"MNIST file {path!r} does not exist (from `path` or ${MNIST_ENV}).")
    with np.load(path) as data:
        if "x_train" in data:
            return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])
        if "x" not in data or "y" not in data:
            raise DatasetUnavailableError(f"{path!r} holds {sorted(data)}; expected x_train/y_train/x_test/y_test or x/y.")
        x, y = data["x"], data["y"]
    # A fixed stratified split: the last test_size/10 images of each class are the test set.
    test = np.zeros(len(y), bool)
    per_class = test_size // len(np.unique(y))
    for c in np.unique(y):
        test[np.flatnonzero(y == c)[-per_class:]] = True
    return (x[~test], y[~test]), (x[test], y[test])


_SAMPLES = {
    "cat": "chelsea",
    "coffee": "coffee",
    "astronaut": "astronaut",
    "rocket": "rocket",
    "motorcycle": "stereo_motorcycle",
    "retina": "retina",
    "coins": "coins",
}


def sample_image(name: str = "cat", size: int | tuple | None = None) -> np.ndarray:
    """An offline sample photo from scikit-image, uint8 RGB `(H, W, 3)`.

    Args:
        name: one of "cat" (Chelsea), "coffee", "astronaut", "rocket",
            "motorcycle", "retina", "coins".
        size: None (original), an int (centre-cropped square of that side) or
            `(H, W)` (centre crop to that aspect, then resize).
    """
    import skimage.data

    if name not in _SAMPLES:
        raise ValueError(f"Unknown sample image {name!r}; choose from {sorted(_SAMPLES)}.")
    image = getattr(skimage.data, _SAMPLES[name])()
    if isinstance(image, tuple):  # stereo pairs
        image = image[0]
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    image = image[..., :3]
    return image if size is None else fit_image(image, size)


def fit_image(image: np.ndarray, size: int | tuple) -> np.ndarray:
    """Centre-crop a uint8 photo `(H, W[, C])` to the aspect of `size`, then resize to it.

    Args:
        image: uint8 photo (any size).
        size: an int (square side) or `(height, width)`.

    Returns:
        uint8 `(height, width[, C])`.
    """
    import skimage.transform

    th, tw = (size, size) if isinstance(size, int) else size
    h, w = image.shape[:2]
    scale = min(h / th, w / tw)
    ch, cw = int(round(th * scale)), int(round(tw * scale))
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = image[top : top + ch, left : left + cw]
    resized = skimage.transform.resize(crop, (th, tw), order=1, anti_aliasing=True, preserve_range=True)
    return np.clip(np.round(resized), 0, 255).astype(np.uint8)


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def image_files(folder: str) -> list[str]:
    """The image files under `folder` (searched recursively, sorted by path)."""
    return sorted(os.path.join(root, f) for root, _, fs in os.walk(folder) for f in fs
                  if f.lower().endswith(IMAGE_EXTENSIONS))


def read_photo(path: str) -> np.ndarray:
    """One image file as uint8 `(H, W, 3)` RGB (grey repeated, alpha dropped, first frame).

    Raises:
        ImageReadError: the file is missing or not a readable image.
    """
    import skimage.io

    if not os.path.isfile(path):
        raise ImageReadError(f"image file {path!r} does not exist")
    try:
        image = np.asarray(skimage.io.imread(path))
    except Exception as err:  # every decoder fails differently; the name is what matters
        raise ImageReadError(f"cannot read image {path!r}: {type(err).__name__}: {_one_line(err)}") from None
    if image.ndim == 4:  # animated GIF / multi-page TIFF: first frame
        image = image[0]
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 2, 3, 4) or min(image.shape[:2]) < 1:
        raise ImageReadError(f"image {path!r} has shape {image.shape}; expected a 2-D grey or colour picture")
    if image.dtype != np.uint8:
        image = _to_uint8(image)
    colour = image[..., :3] if image.shape[-1] >= 3 else image[..., :1]
    return np.repeat(colour, 3, axis=-1) if colour.shape[-1] == 1 else colour


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """16-bit, boolean or float pictures -> uint8 (floats in [0, 1] or 0-255)."""
    x = image.astype(np.float64)
    if image.dtype.kind in "iu":
        x = x * 255.0 / np.iinfo(image.dtype).max
    elif image.dtype.kind == "b" or x.max() <= 1.0:
        x = x * 255.0
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())[:300]


_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)
_TORCH_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_TORCH_STD = np.array([0.229, 0.224, 0.225], np.float32)
_FAMILY_MODE = {
    "vgg16": "caffe", "vgg19": "caffe", "resnet50": "caffe", "caffe": "caffe",
    "mobilenet_v2": "tf", "inception_v3": "tf", "xception": "tf", "tf": "tf",
    "densenet": "torch", "torch": "torch",
    "none": "none",
}


def _mode(family: str) -> str:
    try:
        return _FAMILY_MODE[family.lower()]
    except KeyError:
        raise ValueError(f"Unknown model family {family!r}; choose from {sorted(_FAMILY_MODE)}.") from None


def preprocess(images, family: str = "vgg16") -> np.ndarray:
    """RGB images in [0, 255] -> the model family's input space (float32).

    Modes: "caffe" (VGG16/19, ResNet50: RGB->BGR, minus the ImageNet mean),
    "tf" (MobileNetV2, Inception: x / 127.5 - 1), "torch" (DenseNet: x / 255,
    minus mean, over std), "none".

    Example:
        >>> x = kv.preprocess(kv.sample_image(size=224))      # (224, 224, 3) BGR, centred
    """
    x = np.asarray(images, np.float32)
    mode = _mode(family)
    if mode == "caffe":
        return x[..., ::-1] - _CAFFE_MEAN_BGR
    if mode == "tf":
        return x / 127.5 - 1.0
    if mode == "torch":
        return (x / 255.0 - _TORCH_MEAN) / _TORCH_STD
    return x


def deprocess(images, family: str = "vgg16", clip: bool = True) -> np.ndarray:
    """The inverse of `preprocess`: model input -> RGB uint8 `[0, 255]` for display.

    With `clip=False` returns float RGB in the 0-255 scale without clipping.
    """
    x = np.asarray(images, np.float32)
    mode = _mode(family)
    if mode == "caffe":
        x = (x + _CAFFE_MEAN_BGR)[..., ::-1]
    elif mode == "tf":
        x = (x + 1.0) * 127.5
    elif mode == "torch":
        x = (x * _TORCH_STD + _TORCH_MEAN) * 255.0
    return np.clip(np.round(x), 0, 255).astype(np.uint8) if clip else x
