"""Train the MatConvNet MNIST LeNet with MatConvNet's recipe, and cache it.

The recipe of `cnn_mnist.m` / `cnn_train.m` (what Rafegas & Vanrell trained):
inputs are raw 0-255 intensities minus the per-pixel mean training image (no
division by 255, which would change the effective learning rate), plain SGD
with learning rate 0.001 and momentum 0.9, weight decay 0.0005 on filters and
biases (Keras `l2(0.00025)`, already in `kv.lenet()`), batches of 100, 20
epochs, reshuffled every epoch. The trained model and its mean image are saved
in a cache folder so notebooks train once.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass

import keras
import numpy as np

from kerasviz._config import max_steps, quick_mode
from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError
from kerasviz.core.validate import check_int, check_number, check_seed
from kerasviz.loaders import load_mnist
from kerasviz.models import lenet
from kerasviz.provenance import set_weights_label

HOME_ENV = "KERASVIZ_HOME"


def cache_dir() -> str:
    """The kerasviz cache folder: `$KERASVIZ_HOME`, else `~/.keras/kerasviz` (created)."""
    path = os.environ.get(HOME_ENV) or os.path.join(os.path.expanduser("~"), ".keras", "kerasviz")
    os.makedirs(path, exist_ok=True)
    return path


@dataclass
class TrainedLeNet:
    """A trained LeNet with what is needed to feed it.

    Attributes:
        model: the Keras LeNet (softmax output).
        mean: `(28, 28, 1)` float32 mean training image, subtracted from inputs.
        test_accuracy: accuracy on the held-out test digits.
        epochs: epochs trained; `steps_per_epoch` is None for full epochs.
        steps_per_epoch: the quick-mode cap on steps, if any.
    """

    model: keras.Model
    mean: np.ndarray
    test_accuracy: float
    epochs: int
    steps_per_epoch: int | None = None

    def prepare(self, digits) -> np.ndarray:
        """uint8 digits `(N, 28, 28)` or `(N, 28, 28, 1)` -> float32 network input (0-255 minus mean)."""
        x = np.asarray(digits, np.float32)
        if x.ndim == 2 or (x.ndim == 3 and x.shape[-1] != 1):
            x = x[..., None]
        return x - self.mean

    @property
    def label(self) -> str:
        """A figure-title label: recipe, epochs (and step cap) and test accuracy."""
        cap = f", {self.steps_per_epoch} steps/epoch (quick)" if self.steps_per_epoch else ""
        return f"LeNet, {self.epochs} epochs{cap}, test acc {self.test_accuracy:.3f}"


def _digits(x, y, x_name: str, y_name: str) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits `(N, 28, 28)` (or `(N, 28, 28, 1)`) and their labels `(N,)` in 0..9, checked."""
    from kerasviz.core.arguments import check_array

    x = check_array(x, x_name, min_ndim=3, max_ndim=4)
    if x.shape[1:3] != (28, 28) or (x.ndim == 4 and x.shape[-1] != 1):
        raise InvalidArgumentError(f"`{x_name}` must be MNIST digits (N, 28, 28); got shape {x.shape}.")
    y = np.asarray(check_array(y, y_name, min_ndim=1, max_ndim=1))
    if y.dtype.kind not in "iu" or len(y) != len(x) or y.min() < 0 or y.max() > 9:
        raise InvalidArgumentError(
            f"`{y_name}` must hold one integer label 0..9 per digit of `{x_name}` ({len(x)}); "
            f"got {y.dtype} labels of shape {y.shape}."
        )
    return x, y


def _mnist_pairs(data) -> tuple:
    """`data` as `((x_train, y_train), (x_test, y_test))`, checked."""
    try:
        (x_train, y_train), (x_test, y_test) = data
    except (TypeError, ValueError):
        raise ArgumentTypeError(
            "`data` must be ((x_train, y_train), (x_test, y_test)), as kv.load_mnist() returns; "
            f"got {type(data).__name__}."
        ) from None
    return _digits(x_train, y_train, "data", "data"), _digits(x_test, y_test, "data", "data")


def train_lenet(
    x_train,
    y_train,
    x_test=None,
    y_test=None,
    *,
    epochs: int = 20,
    batch_size: int = 100,
    learning_rate: float = 0.001,
    momentum: float = 0.9,
    steps_per_epoch: int | None = None,
    seed: int = 0,
    verbose: int = 0,
) -> TrainedLeNet:
    """Train `kv.lenet()` with the MatConvNet recipe.

    Args:
        x_train: uint8 digits `(N, 28, 28)`; `y_train`: labels `(N,)` in 0..9.
        x_test, y_test: held-out digits for the reported accuracy (optional).
        epochs: 20 in MatConvNet's example.
        batch_size: images per SGD step (100 in MatConvNet's example).
        learning_rate, momentum: SGD, 0.001 and 0.9 (constant rate).
        steps_per_epoch: cap on batches per epoch (None: the whole set). It is
            further capped by `kv`'s quick mode (`KERASVIZ_QUICK=1`).
        seed: seeds the initialisation and the shuffling.
        verbose: Keras fit verbosity.

    Returns:
        `TrainedLeNet` (model, mean image, test accuracy).

    Example:
        >>> (xt, yt), (xs, ys) = kv.load_mnist()
        >>> net = kv.train_lenet(xt, yt, xs, ys, epochs=1)
        >>> net.model.predict(net.prepare(xs[:5]), verbose=0).argmax(1)
    """
    x_train, y_train = _digits(x_train, y_train, "x_train", "y_train")
    if x_test is not None or y_test is not None:
        x_test, y_test = _digits(x_test, y_test, "x_test", "y_test")
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    steps_per_epoch = check_int(steps_per_epoch, "steps_per_epoch", minimum=1, allow_none=True)
    learning_rate = check_number(learning_rate, "learning_rate", minimum=0.0, strict_minimum=True)
    momentum = check_number(momentum, "momentum", minimum=0.0, maximum=1.0)
    seed = check_seed(seed)
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        return _train(
            x_train,
            y_train,
            x_test,
            y_test,
            epochs,
            batch_size,
            learning_rate,
            momentum,
            steps_per_epoch,
            seed,
            verbose,
        )
    finally:  # seeding for a reproducible run leaves the caller's Python and NumPy random state as found
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def _train(
    x_train, y_train, x_test, y_test, epochs, batch_size, learning_rate, momentum, steps_per_epoch, seed, verbose
):
    keras.utils.set_random_seed(seed)
    mean = np.asarray(x_train, np.float32).mean(0)[..., None]
    full_steps = int(np.ceil(len(x_train) / batch_size))
    steps = max_steps(steps_per_epoch or full_steps, quick=15)
    capped = steps if steps < full_steps else None
    model = lenet(seed=seed)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    trained = TrainedLeNet(model, mean, float("nan"), epochs, capped)
    x, y = trained.prepare(x_train), np.asarray(y_train)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):  # reshuffled every epoch, like MatConvNet's randperm
        order = rng.permutation(len(x))[: steps * batch_size]
        model.fit(x[order], y[order], batch_size=batch_size, epochs=1, shuffle=False, verbose=verbose)
    if x_test is not None:
        trained.test_accuracy = evaluate(trained, x_test, y_test)
    set_weights_label(model, trained.label)
    return trained


def evaluate(trained: TrainedLeNet, digits, labels) -> float:
    """Accuracy of a `TrainedLeNet` on uint8 digits."""
    probs = trained.model.predict(trained.prepare(digits), batch_size=500, verbose=0)
    return float((probs.argmax(1) == np.asarray(labels)).mean())


def load_trained_lenet(
    epochs: int = 20,
    *,
    seed: int = 0,
    data=None,
    retrain: bool = False,
    verbose: int = 0,
) -> TrainedLeNet:
    """The LeNet trained on MNIST with the MatConvNet recipe, from the cache or trained now.

    The model is cached under `kv`'s cache folder (`$KERASVIZ_HOME`, else
    `~/.keras/kerasviz`) as `.keras` plus the mean image, keyed by the data size,
    epochs, seed and quick-mode step cap, so a quick run never passes for a full one.

    Args:
        epochs: training epochs (20: the paper's network).
        seed: initialisation and shuffling seed.
        data: `((x_train, y_train), (x_test, y_test))`; default `kv.load_mnist()`.
        retrain: ignore the cache.
        verbose: Keras fit verbosity when training.

    Returns:
        `TrainedLeNet`.

    Example:
        >>> net = kv.load_trained_lenet()
        >>> net.label
        'LeNet, 20 epochs, test acc 0.98...'
    """
    (x_train, y_train), (x_test, y_test) = _mnist_pairs(data) if data is not None else load_mnist()
    cap = max_steps(10**9, quick=15) if quick_mode() else None
    stem = f"lenet_mnist_n{len(x_train)}_e{epochs}_s{seed}" + (f"_quick{cap}" if cap else "")
    base = os.path.join(cache_dir(), stem)
    if not retrain and os.path.exists(base + ".keras") and os.path.exists(base + ".npz"):
        model = keras.models.load_model(base + ".keras")
        with np.load(base + ".npz") as saved:
            meta = json.loads(str(saved["meta"]))
            trained = TrainedLeNet(model, saved["mean"], meta["test_accuracy"], meta["epochs"], meta["steps_per_epoch"])
        set_weights_label(model, trained.label)
        return trained
    trained = train_lenet(x_train, y_train, x_test, y_test, epochs=epochs, seed=seed, verbose=verbose)
    trained.model.save(base + ".keras")
    meta = dict(test_accuracy=trained.test_accuracy, epochs=epochs, steps_per_epoch=trained.steps_per_epoch)
    np.savez(base + ".npz", mean=trained.mean, meta=json.dumps(meta))
    return trained
