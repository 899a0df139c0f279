"""Concept activation vectors (Kim et al., ICML 2018).

A concept (stripes, a colour, a digit's loop) is given by example images. Its
CAV is the unit normal of a linear classifier that separates the concept's
activations at a layer from those of random images, oriented towards the
concept. The classifier follows the reference TCAV code (tensorflow/tcav):
scikit-learn's `SGDClassifier(alpha=0.01, max_iter=1000, tol=1e-3)` on the
flattened activations, the two sets balanced by truncation, accuracy measured
on a stratified held-out third. The concept is labelled 1, so the normal needs
no sign flip (the reference code labels it 0 and stores `-coef`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import keras
import numpy as np

from kerasviz._config import progress_bar
from kerasviz.concepts._common import (
    check_batch_size,
    check_images,
    check_layer,
    check_model,
    check_seed,
    flat_activations,
    host_threads,
    rng_for,
)
from kerasviz.core.errors import InvalidArgumentError
from kerasviz.core.results import ArrayResult
from kerasviz.core.validate import check_choice, check_number

CLASSIFIERS = ("sgd", "logistic", "svm")


@dataclass(frozen=True)
class CAV(ArrayResult):
    """A concept activation vector: behaves as `vector`.

    Attributes:
        vector: the unit-norm CAV, shaped like one activation of the layer
            (`(h, w, C)` or `(C,)`), pointing from the random images towards
            the concept.
        layer: the layer key.
        accuracy: the classifier's accuracy on the held-out images (on the
            training images when `test_fraction=0`); near 0.5 means the layer
            does not separate the concept from random images.
        intercept: the classifier's intercept, in the units of `vector`.
        classifier: "sgd", "logistic" or "svm".
        counts: `(concept, random)` images used per class after balancing.
    """

    array_field: ClassVar[str] = "vector"
    vector: np.ndarray
    layer: str
    accuracy: float
    intercept: float
    classifier: str
    counts: tuple


def make_classifier(kind: str, seed: int):
    """The scikit-learn linear classifier behind a CAV (reference hyperparameters)."""
    if kind == "sgd":
        from sklearn.linear_model import SGDClassifier

        return SGDClassifier(alpha=0.01, max_iter=1000, tol=1e-3, random_state=seed)
    if kind == "logistic":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=1000, random_state=seed)
    from sklearn.svm import LinearSVC

    return LinearSVC(C=1.0, max_iter=5000, random_state=seed)


def fit_cav(
    concept: np.ndarray,
    random: np.ndarray,
    *,
    classifier: str = "sgd",
    test_fraction: float = 0.33,
    seed: int = 0,
    what: str = "concept_images",
) -> tuple[np.ndarray, float, float, tuple]:
    """Train one CAV on flattened activations `(n, D)` and `(m, D)`.

    Returns:
        `(unit vector (D,), held-out accuracy, intercept / norm, (n_used, m_used))`.

    Raises:
        InvalidArgumentError: fewer than 2 images per side (after balancing), or
            activations the classifier cannot separate at all (a zero normal).
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    rng = rng_for(seed, 1)
    count = min(len(concept), len(random))  # balanced by truncation, as in tensorflow/tcav
    if count < 2:
        raise InvalidArgumentError(
            f"`{what}`: a CAV needs at least 2 concept and 2 random images; got {len(concept)} and {len(random)}."
        )
    concept = concept[np.sort(rng.permutation(len(concept))[:count])]
    random = random[np.sort(rng.permutation(len(random))[:count])]
    x = np.concatenate([concept, random]).astype(np.float64)
    y = np.concatenate([np.ones(count, np.int64), np.zeros(count, np.int64)])
    test = int(round(test_fraction * len(x)))
    if test_fraction > 0 and 2 <= test <= len(x) - 2:
        x_fit, x_test, y_fit, y_test = train_test_split(x, y, test_size=test, stratify=y, random_state=seed)
    else:
        x_fit, x_test, y_fit, y_test = x, x, y, y
    model = make_classifier(classifier, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_fit, y_fit)
    normal = np.asarray(model.coef_, np.float64).reshape(-1)
    norm = float(np.linalg.norm(normal))
    if not np.isfinite(norm) or norm == 0.0:
        raise InvalidArgumentError(
            f"`{what}`: the {classifier} classifier found no direction separating the concept from the random "
            "images at this layer (zero normal); are the two sets identical, or is the layer dead for them?"
        )
    accuracy = float(np.mean(model.predict(x_test) == y_test))
    intercept = float(np.ravel(model.intercept_)[0]) / norm
    return (normal / norm).astype(np.float32), accuracy, intercept, (count, count)


def check_cav_settings(classifier, test_fraction):
    classifier = check_choice(classifier, "classifier", CLASSIFIERS)
    test_fraction = check_number(test_fraction, "test_fraction", minimum=0.0, maximum=0.9)
    return classifier, test_fraction


def cav(
    model: keras.Model,
    layer,
    concept_images,
    random_images,
    *,
    classifier: str = "sgd",
    test_fraction: float = 0.33,
    seed: int = 0,
    batch_size: int = 32,
    progress: bool = True,
) -> CAV:
    """The concept activation vector of a concept at a layer (Kim et al., 2018).

    A linear classifier separates the layer's activations for `concept_images`
    from those for `random_images`; its unit normal, pointing to the concept,
    is the CAV. The larger set is truncated to the smaller one's size (chosen
    with `seed`), so both classes weigh the same.

    Args:
        model: a Keras image model (never changed).
        layer: name, "outer/inner" path, index or Layer with output
            `(N, h, w, C)` or `(N, C)`.
        concept_images: `(n, H, W, C)` examples of the concept, in the model's
            input space (at least 2).
        random_images: `(m, H, W, C)` images without the concept (at least 2).
        classifier: "sgd" (the reference: `SGDClassifier(alpha=0.01)`),
            "logistic" or "svm" (`LinearSVC`, as xplique offers).
        test_fraction: held-out fraction for `.accuracy` (0: training accuracy).
        seed: seeds balancing, the split and the classifier.
        batch_size: images per forward pass (bounds memory).
        progress: show a progress bar.

    Returns:
        `CAV`: behaves as the unit vector `(h, w, C)` (or `(C,)`), with
        `.accuracy`, `.intercept`, `.counts`.

    Raises:
        InvalidArgumentError: bad settings, images that do not fit the model,
            fewer than 2 images per set, inseparable sets.

    Example:
        >>> v = kv.cav(net, "relu3", striped, random)
        >>> v.shape, round(v.accuracy, 2)
        ((500,), 0.97)
    """
    check_model(model)
    spec, key, shape = check_layer(model, layer)
    classifier, test_fraction = check_cav_settings(classifier, test_fraction)
    seed, batch_size = check_seed(seed), check_batch_size(batch_size)
    concept = check_images(model, concept_images, "concept_images")
    random = check_images(model, random_images, "random_images")
    for name, batch in (("concept_images", concept), ("random_images", random)):
        if int(batch.shape[0]) < 2:
            raise InvalidArgumentError(f"`{name}` has {int(batch.shape[0])} image; a CAV needs at least 2 per set.")
    with progress_bar(3, f"CAV {key}", progress) as bar, host_threads():
        concept_acts = flat_activations(model, spec, concept, batch_size)
        bar.update(1)
        random_acts = flat_activations(model, spec, random, batch_size)
        bar.update(1)
        vector, accuracy, intercept, counts = fit_cav(
            concept_acts, random_acts, classifier=classifier, test_fraction=test_fraction, seed=seed
        )
        bar.update(1)
    return CAV(vector.reshape(shape), key, accuracy, intercept, classifier, counts)
