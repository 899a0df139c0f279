"""Bad input to the concept methods: a clear kerasviz error naming the argument, raised before model work."""

import numpy as np
import pytest
from _checks import assert_clear_error

import kerasviz as kv
from kerasviz.testing import small_cnn

rng = np.random.default_rng(0)
X = rng.uniform(0, 1, (12, 16, 16, 3)).astype("float32")
POOL = rng.uniform(0, 1, (30, 16, 16, 3)).astype("float32")
NAN = X.copy()
NAN[0, 0, 0, 0] = np.nan
GREY = X[..., :1]
M = small_cnn()
LOGITS = small_cnn(softmax=False, name="small_logits")


def _tcav(**kw):
    args = dict(
        model=M,
        layer="conv2",
        concept_images=X[:6],
        images=X,
        target=1,
        random_images=POOL,
        random_sets=2,
        progress=False,
    )
    args.update(kw)
    return lambda: kv.tcav(**args)


def _nmf(**kw):
    args = dict(model=M, layer="conv2", data=X, k=3, progress=False)
    args.update(kw)
    return lambda: kv.nmf_concepts(**args)


def _atlas(**kw):
    args = dict(model=M, layer="conv2", data=X, steps=2, progress=False)
    args.update(kw)
    return lambda: kv.activation_atlas(**args)


def _caricature(**kw):
    args = dict(model=M, layer="conv2", images=X[:2], steps=2, progress=False)
    args.update(kw)
    return lambda: kv.caricature(**args)


@pytest.mark.parametrize(
    "call, argument",
    [
        # cav
        (lambda: kv.cav("model", "conv2", X, POOL, progress=False), "model"),
        (lambda: kv.cav(M, "conv9", X, POOL, progress=False), "conv9"),
        (lambda: kv.cav(M, 2.5, X, POOL, progress=False), "layer"),
        (lambda: kv.cav(M, "conv2", None, POOL, progress=False), "concept_images"),
        (lambda: kv.cav(M, "conv2", GREY, POOL, progress=False), "concept_images"),
        (lambda: kv.cav(M, "conv2", NAN, POOL, progress=False), "concept_images"),
        (lambda: kv.cav(M, "conv2", X, POOL[:1], progress=False), "random_images"),
        (lambda: kv.cav(M, "conv2", X, "random", progress=False), "random_images"),
        (lambda: kv.cav(M, "conv2", X, POOL, classifier="tree", progress=False), "classifier"),
        (lambda: kv.cav(M, "conv2", X, POOL, test_fraction=1.5, progress=False), "test_fraction"),
        (lambda: kv.cav(M, "conv2", X, POOL, seed=-1, progress=False), "seed"),
        (lambda: kv.cav(M, "conv2", X, POOL, batch_size=0, progress=False), "batch_size"),
        # tcav
        (_tcav(target=9), "target"),
        (_tcav(target=1.5), "target"),
        (_tcav(target=[1, 2]), "target"),
        (_tcav(output=3), "output"),
        (_tcav(random_sets=1), "random_sets"),
        (_tcav(random_sets="ten"), "random_sets"),
        (_tcav(random_images=None), "random_images"),
        (_tcav(random_images=POOL[:5]), "random_images"),
        (_tcav(random_images=None, random_sets=[POOL[:5], POOL[5:10]]), "random_sets"),
        (_tcav(random_sets=[POOL[:5], POOL[5:10], POOL[10:15]]), "random_sets"),
        (_tcav(random_images=None, random_sets=[POOL[:5], POOL[5:10], GREY]), "random_sets[2]"),
        (_tcav(set_size=1), "set_size"),
        (_tcav(concept_images={}), "concept_images"),
        (_tcav(concept_images={"a": NAN}), "concept_images['a']"),
        (_tcav(images=GREY), "images"),
        (_tcav(alpha=2.0), "alpha"),
        (_tcav(correction="holm"), "correction"),
        # nmf_concepts
        (_nmf(k=0), "k"),
        (_nmf(k=17), "k"),
        (_nmf(k=2.0), "k"),
        (_nmf(data=None), "data"),
        (_nmf(data="images/"), "data"),
        (_nmf(data=GREY), "data"),
        (_nmf(data=NAN), "data"),
        (_nmf(labels=[1, 2]), "labels"),
        (_nmf(model=LOGITS, layer="head"), "layer"),
        (_nmf(top=0), "top"),
        (_nmf(fit_images=0), "fit_images"),
        (_nmf(max_vectors=0), "max_vectors"),
        (_nmf(max_iter=0), "max_iter"),
        (_nmf(target=7), "target"),
        (_nmf(data=(b for b in [X]), target=[1] * 12), "target"),
        # activation_atlas
        (_atlas(grid=0), "grid"),
        (_atlas(method="umap"), "method"),
        (_atlas(samples_per_image=0), "samples_per_image"),
        (_atlas(max_samples=2), "max_samples"),
        (_atlas(min_count=0), "min_count"),
        (_atlas(min_count=10**6), "min_count"),
        (_atlas(whiten="yes"), "whiten"),
        (_atlas(steps=0), "steps"),
        (_atlas(layer_name="x"), "layer_name"),
        (_atlas(data=GREY), "data"),
        # caricature
        (_caricature(steps=0), "steps"),
        (_caricature(cosine_power=-1.0), "cosine_power"),
        (_caricature(images=GREY), "images"),
        (_caricature(image_batch_size=0), "image_batch_size"),
        (_caricature(octaves="x", unknown=1), "unknown"),
        (_caricature(images=np.zeros((1, 16, 16, 3), "float32"), layer="pool1"), "images"),
        # plots
        (lambda: kv.plot_tcav("result"), "result"),
        (lambda: kv.plot_activation_atlas(object()), "atlas"),
    ],
)
def test_bad_input_raises_a_clear_error(call, argument):
    assert_clear_error(call, argument)


def test_plots_check_their_indices():
    concepts = kv.nmf_concepts(M, "conv2", X, 3, top=2, progress=False)
    assert_clear_error(lambda: kv.plot_nmf_concepts(concepts, concepts=[5]), "concepts")
    drawn = kv.caricature(M, "conv2", X[:2], steps=1, progress=False)
    assert_clear_error(lambda: kv.plot_caricature(drawn, X[:3]), "images")


def test_model_without_fixed_size_refuses_another_size():
    import keras

    x = inp = keras.Input((None, None, 3))
    model = keras.Model(inp, keras.layers.Conv2D(4, 3, activation="relu", name="c")(x))
    assert_clear_error(lambda: kv.caricature(model, "c", X[:1], size=24, steps=1, progress=False), "size")
