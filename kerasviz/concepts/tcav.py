"""Testing with CAVs (Kim et al., ICML 2018): is a class sensitive to a concept?

For each image x of the class and a CAV v at layer l, the conceptual
sensitivity is the directional derivative of the class logit along v,

    S(x) = grad_a logit_k(a) . v,   a = f_l(x),

and the TCAV score is the fraction of images with S(x) > 0. A CAV trained on
any set of images gets some score, so the test is against chance: the concept
is trained against R random sets S_1..S_R, giving R scores; the same is done
for a random "concept" S_0 against the same S_1..S_R, giving R chance scores;
a two-sided t-test (equal variances, as in tensorflow/tcav) compares the two
groups. The logit (not the loss, whose gradient can have the other sign) is
differentiated, as in xplique; the gradient is taken once per image and dotted
with every CAV, so the cost is one backward pass per image whatever R is.

Memory: the activations of the concept sets, of the reference random set and
of one counter-example set at a time (set size x layer size each), the CAVs
(2R x layer size) and one chunk of gradients; the class images are read in
chunks of `batch_size`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import keras
import numpy as np

from kerasviz._config import progress_bar
from kerasviz.concepts._common import (
    argument_errors,
    check_batch_size,
    check_images,
    check_layer,
    check_model,
    check_seed,
    chunks,
    flat_activations,
    host_threads,
    optional_int,
    rng_for,
)
from kerasviz.concepts.cav import check_cav_settings, fit_cav
from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError
from kerasviz.core.gradients import score_gradients
from kerasviz.core.outputs import output_tensors, resolve_output
from kerasviz.core.results import ArrayResult
from kerasviz.core.targets import target_vector
from kerasviz.core.validate import check_choice, check_fraction, check_int


@dataclass(frozen=True)
class TCAV(ArrayResult):
    """TCAV scores and their significance; behaves as `score`.

    With one concept (an array given as `concept_images`) the per-concept
    fields are scalars (`score`, `p_value`, `significant`) or drop the concept
    axis; with a dict of concepts they have one entry per concept, in
    `concepts` order.

    Attributes:
        score: mean TCAV score over the R runs (fraction of images whose logit
            rises along the CAV), per concept.
        p_value: two-sided t-test of the R concept scores against the R
            random-vs-random scores.
        significant: `p_value < alpha` (after the correction).
        scores: `(concepts, R)` the TCAV score of each run.
        random_scores: `(R,)` the chance scores (random set vs random sets).
        accuracies: `(concepts, R)` held-out accuracy of each CAV.
        random_accuracies: `(R,)` the same for the chance CAVs.
        derivatives: `(concepts, R, N)` directional derivatives S(x).
        vectors: `(concepts, *layer_shape)` the mean CAV over runs (unit norm).
        concepts: the concept names.
        layer: the layer key.
        classes: `(N,)` the class explained for each image (-1: callable target).
        alpha: the significance threshold used (after the correction).
        correction: "bonferroni" (alpha divided by the number of concepts) or None.
    """

    array_field: ClassVar[str] = "score"
    score: float | np.ndarray
    p_value: float | np.ndarray
    significant: bool | np.ndarray
    scores: np.ndarray
    random_scores: np.ndarray
    accuracies: np.ndarray
    random_accuracies: np.ndarray
    derivatives: np.ndarray
    vectors: np.ndarray
    concepts: list
    layer: str
    classes: np.ndarray
    alpha: float
    correction: object


def t_test(scores: np.ndarray, random_scores: np.ndarray) -> float:
    """Two-sided equal-variance t-test p-value; two constant groups give 1 (equal) or 0 (different)."""
    import warnings

    from scipy.stats import ttest_ind

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's precision note on near-constant groups
        p = float(ttest_ind(scores, random_scores).pvalue)
    if np.isnan(p):
        p = 1.0 if np.isclose(np.mean(scores), np.mean(random_scores)) else 0.0
    return p


def _concept_sets(model, concept_images) -> tuple[list, list, bool]:
    if isinstance(concept_images, dict):
        if not concept_images:
            raise InvalidArgumentError("`concept_images` is an empty dict; give {name: images}.")
        names = [str(k) for k in concept_images]
        return names, [check_images(model, v, f"concept_images[{k!r}]") for k, v in concept_images.items()], False
    return ["concept"], [check_images(model, concept_images, "concept_images")], True


def _random_sets(model, random_images, random_sets, set_size, concept_sizes, seed) -> list:
    """R + 1 random image sets: given explicitly, or disjoint draws from a pool."""
    if isinstance(random_sets, (list, tuple)):
        if random_images is not None:
            raise InvalidArgumentError(
                "Give either `random_sets` as a list of image sets or `random_images` as a "
                "pool with `random_sets` an int, not both."
            )
        if len(random_sets) < 3:
            raise InvalidArgumentError(
                f"`random_sets` needs at least 3 sets (one reference and 2 runs); got {len(random_sets)}."
            )
        return [check_images(model, s, f"random_sets[{i}]") for i, s in enumerate(random_sets)]
    if random_sets is not None and (isinstance(random_sets, (str, bytes)) or not hasattr(random_sets, "__index__")):
        raise ArgumentTypeError(
            f"`random_sets` must be an int (runs drawn from `random_images`) or a list of "
            f"image sets; got {type(random_sets).__name__}."
        )
    runs = optional_int(random_sets, "random_sets", 2, 10, quick=4)
    if random_images is None:
        raise InvalidArgumentError(
            "`random_images` is needed: a pool of images without the concept from which "
            f"{runs + 1} disjoint random sets are drawn (or give `random_sets` as a list of sets)."
        )
    pool = check_images(model, random_images, "random_images")
    available = int(pool.shape[0]) // (runs + 1)
    size = min(max(concept_sizes), available) if set_size is None else check_int(set_size, "set_size", minimum=2)
    if size < 2 or size > available:
        raise InvalidArgumentError(
            f"`random_images` has {int(pool.shape[0])} images: too few for {runs + 1} disjoint random sets of "
            f"{max(size, 2)} (random_sets={runs}); give more images, a smaller `set_size` or fewer `random_sets`."
        )
    order = rng_for(seed, 2).permutation(int(pool.shape[0]))
    import tensorflow as tf

    return [tf.gather(pool, np.sort(order[i * size : (i + 1) * size])) for i in range(runs + 1)]


def _targets(model, target, n: int, output):
    """The per-image target vector (or the callable), checked before any model work."""
    if callable(target):
        return target
    index = resolve_output(model, output)
    num_outputs = int(np.prod(output_tensors(model)[index].shape[1:]))
    with argument_errors("target"):
        return target_vector(target, n, num_outputs, allow_predicted=True)


def tcav(
    model: keras.Model,
    layer,
    concept_images,
    images,
    target=None,
    *,
    random_images=None,
    random_sets=None,
    set_size=None,
    output=None,
    classifier: str = "sgd",
    test_fraction: float = 0.33,
    alpha: float = 0.05,
    correction="bonferroni",
    seed: int = 0,
    batch_size: int = 32,
    progress: bool = True,
):
    """TCAV scores of concepts for a class, with a t-test against random concepts (Kim et al., 2018).

    Args:
        model: a Keras image model (never changed).
        layer: the layer whose activations define the concepts (`(N, h, w, C)`
            or `(N, C)` output).
        concept_images: `(n, H, W, C)` examples of one concept, or a dict
            `{name: images}` of several; in the model's input space.
        images: `(N, H, W, C)` images of the class to test.
        target: the class: None (each image's predicted class), an int, one
            int per image, or a callable `score(outputs) -> (N,)`. Read on logits.
        random_images: a pool of images without the concepts; `random_sets`
            + 1 disjoint sets of `set_size` images are drawn from it.
        random_sets: R, the number of runs (default 10, 4 in quick mode; at
            least 2; the paper uses many), or a list of R + 1 image sets (the first is the random "concept", the
            others the counter-examples of each run).
        set_size: images per random set (default: the largest concept's size,
            capped by the pool).
        output: which output of a multi-output model (index or name).
        classifier: "sgd" (reference), "logistic" or "svm"; see `kv.cav`.
        test_fraction: held-out fraction for the CAV accuracies.
        alpha: significance level of the two-sided t-test.
        correction: "bonferroni" (alpha / number of concepts) or None.
        seed: seeds the random sets and the classifiers.
        batch_size: images per compiled call (bounds memory).
        progress: show a progress bar.

    Returns:
        `TCAV` with `.score`, `.p_value`, `.significant` (scalars for one
        concept, arrays for a dict), per-run `.scores`, chance `.random_scores`,
        `.accuracies`, `.derivatives` and mean `.vectors`.

    Raises:
        InvalidArgumentError / ArgumentTypeError: bad settings, images that do
            not fit the model, too few random images, inseparable sets.

    Example:
        >>> result = kv.tcav(net, "relu3", {"loops": loops, "bars": bars}, sevens, 7,
        ...                  random_images=pool, random_sets=10)
        >>> result.score, result.significant
        (array([0.12, 0.94]), array([ True,  True]))
        >>> kv.plot_tcav(result)
    """
    check_model(model)
    spec, key, shape = check_layer(model, layer)
    classifier, test_fraction = check_cav_settings(classifier, test_fraction)
    alpha = check_fraction(alpha, "alpha")
    if correction is not None:
        correction = check_choice(correction, "correction", ("bonferroni",))
    seed, batch_size = check_seed(seed), check_batch_size(batch_size)
    names, concept_sets, single = _concept_sets(model, concept_images)
    x = check_images(model, images, "images")
    targets = _targets(model, target, int(x.shape[0]), output)
    randoms = _random_sets(model, random_images, random_sets, set_size, [int(c.shape[0]) for c in concept_sets], seed)
    runs = len(randoms) - 1
    grad_chunks = chunks(int(x.shape[0]), batch_size)
    total = len(concept_sets) + len(randoms) + runs * (len(names) + 1) + len(grad_chunks)
    with progress_bar(total, f"TCAV {key}", progress) as bar, host_threads():
        concept_acts = []
        for c in concept_sets:
            concept_acts.append(flat_activations(model, spec, c, batch_size))
            bar.update(1)
        reference = flat_activations(model, spec, randoms[0], batch_size)
        bar.update(1)
        whats = [("concept_images" if single else f"concept_images[{n!r}]") for n in names] + ["random_images"]
        vectors = np.zeros((len(names) + 1, runs, reference.shape[1]), np.float32)
        accuracies = np.zeros((len(names) + 1, runs))
        for i in range(1, runs + 1):  # one random set's activations in memory at a time
            counter = flat_activations(model, spec, randoms[i], batch_size)
            bar.update(1)
            for c, acts in enumerate(concept_acts + [reference]):
                vectors[c, i - 1], accuracies[c, i - 1], _, _ = fit_cav(
                    acts, counter, classifier=classifier, test_fraction=test_fraction, seed=seed + i, what=whats[c]
                )
                bar.update(1)
            del counter
        table = vectors.reshape(-1, vectors.shape[-1])  # rows: concept 0 runs 1..R, ..., then the chance runs
        derivatives, classes = [], []
        for s in grad_chunks:
            with argument_errors("target"):
                g = score_gradients(
                    model,
                    x[s],
                    targets if callable(targets) else targets[s],
                    layers=[spec],
                    output=output,
                    batch_size=batch_size,
                )
            derivatives.append(g.layer_gradients[key].reshape(s.stop - s.start, -1) @ table.T)
            classes.append(g.targets)
            bar.update(1)
    derivatives = np.concatenate(derivatives).T.reshape(len(names) + 1, runs, -1).astype(np.float32)
    fractions = (derivatives > 0).mean(axis=2)
    p = np.array([t_test(fractions[c], fractions[-1]) for c in range(len(names))])
    threshold = alpha / len(names) if correction == "bonferroni" else alpha
    mean_cav = vectors[:-1].mean(axis=1)
    mean_cav /= np.maximum(np.linalg.norm(mean_cav, axis=1, keepdims=True), 1e-12)
    score, p_value, significant = fractions[:-1].mean(axis=1), p, p < threshold
    pick = (lambda a: a[0]) if single else (lambda a: a)
    return TCAV(
        score=float(score[0]) if single else score,
        p_value=float(p[0]) if single else p_value,
        significant=bool(significant[0]) if single else significant,
        scores=pick(fractions[:-1]),
        random_scores=fractions[-1],
        accuracies=pick(accuracies[:-1]),
        random_accuracies=accuracies[-1],
        derivatives=pick(derivatives[:-1]),
        vectors=pick(mean_cav.reshape((len(names),) + shape).astype(np.float32)),
        concepts=names,
        layer=key,
        classes=np.concatenate(classes),
        alpha=threshold,
        correction=correction,
    )
