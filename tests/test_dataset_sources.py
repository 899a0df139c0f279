"""One data source convention, one argument order, bounded memory and no crash, for every dataset view.

- Every view gives the same answer for the same images whatever the source
  (array, tensor, (x, y) tuple, list of batches, tf.data batched or not, generator).
- `fn(model, layer, data)` is the order; older orders give the same answer and one DeprecationWarning.
- Neuron Features stay bounded: patches are cut to where images can fall, and
  large features are averaged down (area), equal to the full-size feature resized.
- Embeddings are computed in float32 under mixed precision.
- t-SNE on duplicate images, a dead layer or constant features never kills the interpreter.
"""

import inspect
import os
import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz.dataset.topk import crop
from kerasviz.testing import small_cnn, unchanged

RNG = np.random.default_rng(0)
X = RNG.normal(size=(48, 16, 16, 3)).astype("float32")
Y = RNG.integers(0, 4, 48)


@pytest.fixture(scope="module")
def model():
    return small_cnn(seed=3, name="sources_cnn")


def sources():
    """The same 48 images with labels, in every supported form."""

    def generator():
        for s in range(0, 48, 20):
            yield X[s : s + 20], Y[s : s + 20]

    return {
        "tensor": (tf.constant(X), {"labels": Y}),
        "(x, y) tuple": ((X, Y), {}),
        "list of batches": ([(X[:10], Y[:10]), (X[10:35], Y[10:35]), (X[35:], Y[35:])], {}),
        "dataset unbatched": (tf.data.Dataset.from_tensor_slices((X, Y)), {}),
        "dataset batched": (tf.data.Dataset.from_tensor_slices({"image": X, "label": Y}).batch(13), {}),
        "generator": (generator(), {}),
    }


VIEWS = {  # labels= only where the view uses them
    "top_activating": lambda m, d, **kw: kv.top_activating(m, "conv2", d, k=4, progress=False, **kw),
    "neuron_feature": lambda m, d, **kw: kv.neuron_feature(m, "conv2", d, k=4, batch_size=16, progress=False, **kw),
    "dead_filters": lambda m, d, **kw: kv.dead_filters(m, None, d, progress=False),
    "activation_summary": lambda m, d, **kw: kv.activation_summary(m, ["conv1", "gap"], d, progress=False),
    "filter_similarity": lambda m, d, **kw: kv.filter_similarity(m, "conv2", d, progress=False),
    "redundant_filters": lambda m, d, **kw: kv.redundant_filters(
        m, "conv1", d, correlation_threshold=0.5, progress=False
    ),
    "embedding_grid": lambda m, d, **kw: kv.embedding_grid(m, "gap", d, max_iter=250, progress=False),
}


def _fingerprint(name, result):
    """The numbers of a view's result that must not depend on the source."""
    if name == "top_activating":
        return [result.indices, result.values, result.labels, result.patches]
    if name == "neuron_feature":
        return [result.images, result.class_selectivity]
    if name == "dead_filters":
        return [s.apoz for s in result.summaries.values()] + [s.max for s in result.summaries.values()]
    if name == "activation_summary":
        return [np.stack([s.apoz, s.max, s.mean]) if len(s.apoz) == 16 else s.apoz for s in result.values()]
    if name == "filter_similarity":
        return [result.cosine, np.nan_to_num(result.correlation, nan=9.0)]
    if name == "redundant_filters":
        return [np.array([(p[0], p[1], p.score) for p in result])]
    return [result.embedding, result.cells, result.mosaic]


@pytest.mark.parametrize("name", list(VIEWS))
def test_every_view_takes_every_source(model, name):
    labelled = name in ("top_activating", "neuron_feature")
    reference = _fingerprint(name, VIEWS[name](model, X, **({"labels": Y} if labelled else {})))
    for source_name, (data, extra) in sources().items():
        with unchanged(model, X[:2]):
            result = _fingerprint(name, VIEWS[name](model, data, **(extra if labelled else {})))
        for a, b in zip(reference, result):
            tolerance = 1e-3 if name == "embedding_grid" else 1e-5
            np.testing.assert_allclose(
                np.asarray(b, np.float64),
                np.asarray(a, np.float64),
                rtol=tolerance,
                atol=tolerance,
                err_msg=f"{name} from {source_name}",
            )


def test_unbatched_single_images_and_uint8_batches(model):
    photos = RNG.integers(0, 256, (12, 16, 16, 3)).astype(np.uint8)
    reference = kv.top_activating(model, "conv1", photos, k=3, progress=False)
    as_list = kv.top_activating(model, "conv1", list(photos), k=3, progress=False)  # a list of single images
    streamed = kv.top_activating(model, "conv1", (b for b in np.split(photos, 4)), k=3, progress=False)
    for other in (as_list, streamed):
        np.testing.assert_array_equal(other.indices, reference.indices)
        np.testing.assert_array_equal(other.patches, reference.patches)
    kept = streamed._source
    assert all(v.dtype == np.uint8 for v in kept.values())  # streams keep their top images in their own dtype


def test_grayscale_images_with_or_without_a_channel_axis():
    net = kv.lenet(seed=0)
    digits = RNG.uniform(0, 1, (10, 28, 28)).astype("float32")
    reference = kv.top_activating(net, "conv2", digits[..., None], k=2, progress=False)
    for data in (digits, tf.data.Dataset.from_tensor_slices(digits), list(digits), (d for d in digits)):
        top = kv.top_activating(net, "conv2", data, k=2, progress=False)
        np.testing.assert_array_equal(top.indices, reference.indices)
        np.testing.assert_array_equal(top.patches, reference.patches)
    one = kv.top_activating(net, "conv2", digits[0], k=1, progress=False)
    assert one.count == 1 and one.patches.shape[-1] == 1


# --------------------------------------------------------------------------- argument order


OLD_CALLS = [
    (
        "dead_filters(model, data)",
        lambda m: kv.dead_filters(m, X, progress=False),
        lambda m: kv.dead_filters(m, None, X, progress=False),
    ),
    (
        "dead_filters(model, data, layer=)",
        lambda m: kv.dead_filters(m, X, layer=["conv1"], progress=False),
        lambda m: kv.dead_filters(m, ["conv1"], X, progress=False),
    ),
    (
        "dead_filters(model, data, layer)",
        lambda m: kv.dead_filters(m, X, "conv2", progress=False),
        lambda m: kv.dead_filters(m, "conv2", X, progress=False),
    ),
    (
        "activation_summary(model, images, layer)",
        lambda m: kv.activation_summary(m, X, "conv1", progress=False),
        lambda m: kv.activation_summary(m, "conv1", X, progress=False),
    ),
    (
        "activation_summary(images=, layer=)",
        lambda m: kv.activation_summary(m, images=X, layer="conv1", progress=False),
        lambda m: kv.activation_summary(m, layer="conv1", data=X, progress=False),
    ),
    (
        "embedding_grid(model, images, layer)",
        lambda m: kv.embedding_grid(m, X, "gap", max_iter=250, progress=False),
        lambda m: kv.embedding_grid(m, "gap", X, max_iter=250, progress=False),
    ),
    (
        "top_activating(..., k positional)",
        lambda m: kv.top_activating(m, "conv2", X, 5, progress=False),
        lambda m: kv.top_activating(m, "conv2", X, k=5, progress=False),
    ),
    (
        "neuron_feature(..., k positional)",
        lambda m: kv.neuron_feature(m, "conv2", X, 5, progress=False),
        lambda m: kv.neuron_feature(m, "conv2", X, k=5, progress=False),
    ),
]


def _same(a, b):
    if isinstance(a, dict):
        return all(_same(a[k], b[k]) for k in a)
    for attr in ("summaries", "indices", "images", "apoz", "embedding"):
        if hasattr(a, attr):
            return _same(getattr(a, attr), getattr(b, attr))
    return np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("old, new", [row[1:] for row in OLD_CALLS], ids=[row[0] for row in OLD_CALLS])
def test_older_argument_orders_work_with_one_deprecation_warning(model, old, new):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        expected = new(model)
    assert not [w for w in caught if issubclass(w.category, DeprecationWarning)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = old(model)
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(deprecations) == 1, [str(w.message) for w in deprecations]
    assert "(model, layer" in str(deprecations[0].message) or "by keyword" in str(deprecations[0].message)
    assert deprecations[0].filename == __file__  # points at the caller
    assert _same(result, expected)


def test_old_keyword_names_still_work(model):
    top = kv.top_activating(model, "conv2", X, k=3, progress=False)
    with pytest.warns(DeprecationWarning, match="model_or_top"):
        assert kv.neuron_feature(model_or_top=top).images.shape == kv.neuron_feature(top).images.shape
    net = kv.lenet(seed=0)
    with pytest.warns(DeprecationWarning, match="kernel_op"):
        old = kv.decode_filters_transposed(net, "conv2", reading="matrix_transpose")
    np.testing.assert_array_equal(old, kv.decode_filters_transposed(net, "conv2", kernel_op="matrix_transpose"))
    x = RNG.normal(size=(2, 28, 28, 1)).astype("float32")
    with pytest.warns(DeprecationWarning, match="unpool"):
        old = kv.decoded_response(net, "conv2", x, "nearest", progress=False)
    np.testing.assert_array_equal(old, kv.decoded_response(net, "conv2", x, unpool="nearest", progress=False))


@pytest.mark.parametrize(
    "fn",
    [
        kv.top_activating,
        kv.neuron_feature,
        kv.dead_filters,
        kv.activation_summary,
        kv.filter_similarity,
        kv.redundant_filters,
        kv.embedding_grid,
        kv.decoded_response,
    ],
)
def test_signatures_follow_the_convention(fn):
    params = list(inspect.signature(fn).parameters.values())
    assert [p.name for p in params[:3]] == ["model", "layer", "images" if fn is kv.decoded_response else "data"]
    assert params[2].default is None
    assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in params[3:]), fn.__name__
    progress = inspect.signature(fn).parameters.get("progress")
    assert progress is not None and progress.default is True


# --------------------------------------------------------------------------- bounded Neuron Features


def wide_field_model():
    """Two stride-4 7x7 convs on 16 px: a 31 px field on 16 px images, at one position."""
    x = inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 7, strides=4, padding="same", name="a")(x)
    x = keras.layers.Conv2D(6, 7, strides=4, padding="same", activation="relu", name="b")(x)
    return keras.Model(inputs, x, name="wide_field")


def test_patches_are_cut_to_where_images_fall_and_lose_no_pixel():
    model = wide_field_model()
    top = kv.top_activating(model, "b", X, k=3, progress=False)
    assert top.receptive_field.size == (31, 31) and top.patch_size == (16, 16)
    for f in range(6):
        for j, index in enumerate(top.indices[f]):
            whole = crop(X[index], top.boxes[f, j], pad_value=np.nan)
            t, l, b, r = top.frame
            outside = np.ones(whole.shape[:2], bool)
            outside[t:b, l:r] = False
            assert np.isnan(whole[outside]).all()  # only padding was cut away
            np.testing.assert_array_equal(top.patches[f, j], np.nan_to_num(whole[t:b, l:r], nan=0.0))


def test_large_neuron_features_are_averaged_down_exactly(model):
    top = kv.top_activating(model, "conv2", X, k=5, progress=False)
    full = kv.neuron_feature(top)
    assert full.scale == 1.0 and full.images.shape == (16, 8, 8, 3)
    small = kv.neuron_feature(top, max_size=4)
    assert small.scale == 0.5 and small.images.shape == (16, 4, 4, 3)
    pooled = full.images.reshape(16, 4, 2, 4, 2, 3).mean(axis=(2, 4))  # area = 2x2 means here
    np.testing.assert_allclose(small.images, pooled, rtol=1e-5, atol=1e-6)
    best3 = kv.neuron_feature(top, k=3)
    weights = top.values[:, :3] / np.abs(top.values[:, :3]).max(1, keepdims=True)
    expected = np.einsum("fk,fk...->f...", weights, top.patches[:, :3]) / 3
    np.testing.assert_allclose(best3.images, expected, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- mixed precision


def test_embedding_codes_are_computed_in_float32_under_mixed_precision():
    tiny = keras.initializers.RandomUniform(0.0, 4e-6, seed=0)

    def build():  # layers that cast to their compute dtype inside call (Rescaling, BatchNormalization)
        x = inputs = keras.Input((16, 16, 3))
        x = keras.layers.Rescaling(1 / 255.0, name="scale")(x)
        x = keras.layers.Conv2D(8, 3, activation="relu", kernel_initializer=tiny, name="c1")(x)
        x = keras.layers.BatchNormalization(name="bn")(x)
        x = keras.layers.Conv2D(16, 3, kernel_initializer=tiny, name="c2")(x)
        return keras.Model(inputs, keras.layers.Flatten(name="codes")(x))

    before = keras.config.dtype_policy().name
    keras.config.set_dtype_policy("mixed_float16")
    try:
        mixed = build()
    finally:
        keras.config.set_dtype_policy(before)
    reference = build()
    reference.set_weights(mixed.get_weights())
    data = np.abs(X[:30]) * 255
    assert np.abs(kv.activations(reference, data, "codes")["codes"]).max() > 0  # float16 would flush these to 0
    np.testing.assert_allclose(
        kv.activations(mixed, data, "codes")["codes"],
        kv.activations(reference, data, "codes")["codes"],
        rtol=1e-4,
        atol=1e-12,
    )
    with unchanged(mixed, data[:2]):
        grid = kv.embedding_grid(mixed, "codes", data, max_iter=250, progress=False)
    expected = kv.embedding_grid(reference, "codes", data, max_iter=250, progress=False)
    np.testing.assert_allclose(grid.embedding, expected.embedding, rtol=1e-3, atol=1e-3)
    from kerasviz.dataset.features import taps  # every layer, not only the codes, equals float32

    ours, theirs = taps(mixed, ["bn", "codes"], float32=True)(data), kv.activations(reference, data, ["bn", "codes"])
    for key in ("bn", "codes"):
        np.testing.assert_allclose(np.asarray(ours[key]), theirs[key], rtol=1e-4, atol=1e-12)
    assert keras.config.dtype_policy().name == before


# --------------------------------------------------------------------------- t-SNE never crashes

_CRASH_SCRIPT = textwrap.dedent("""
    import warnings
    import numpy as np
    import kerasviz as kv
    from kerasviz.testing import small_cnn

    warnings.simplefilter("ignore")
    model = small_cnn(seed=0)
    x = np.random.default_rng(0).normal(size=(30, 16, 16, 3)).astype("float32")
    dead = small_cnn(seed=0, name="dead")
    dead.get_layer("conv2").bias.assign(dead.get_layer("conv2").bias - 1e3)
    pairs = x.copy(); pairs[:15] = x[0]; pairs[15:] = x[1]
    half = x.copy(); half[15:] = x[0]
    cases = {"all duplicates": (model, np.repeat(x[:1], 30, 0)), "dead layer": (dead, x),
             "two duplicated images": (model, pairs), "half duplicates": (model, half),
             "constant images": (model, np.zeros_like(x))}
    for name, (m, data) in cases.items():
        try:
            grid = kv.embedding_grid(m, "gap", data, max_iter=250, progress=False)
            print(name, "ok", bool(np.isfinite(grid.embedding).all()), flush=True)
        except kv.KerasvizError as err:
            print(name, "error", "`data`" in str(err), flush=True)
""")


def test_tsne_on_degenerate_codes_raises_instead_of_crashing():
    """Run in a subprocess: before the check, scikit-learn's t-SNE killed the interpreter (SIGSEGV) here."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run([sys.executable, "-c", _CRASH_SCRIPT], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, f"the process died (status {done.returncode}): {done.stderr[-2000:]}"
    outcome = {line.rsplit(" ", 2)[0]: line.rsplit(" ", 2)[1:] for line in done.stdout.strip().splitlines()}
    assert outcome == {
        "all duplicates": ["error", "True"],
        "dead layer": ["error", "True"],
        "two duplicated images": ["error", "True"],
        "half duplicates": ["ok", "True"],
        "constant images": ["error", "True"],
    }, done.stdout


def test_layer_and_data_tells_a_layer_from_data():
    from kerasviz.dataset.arguments import layer_and_data

    def view(model, layer, data=None):
        return layer_and_data(layer, data, "view", several=True)

    cases = [
        ("conv1", X),
        (np.int64(2), tf.constant(X)),
        (["conv1", "conv2"], [X[:4], X[4:]]),
        ("conv1", (b for b in [X])),
        ("conv1", tf.data.Dataset.from_tensor_slices(X)),
        (None, X),
    ]
    for layer, data in cases:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            same_layer, same_data = view(None, layer, data)
            new_layer, new_data = view(None, data, layer)
        assert same_layer is layer and same_data is data
        assert new_layer is layer and new_data is data
        assert [str(w.message) for w in caught] == [
            "view: `data` now comes after `layer`; call view(model, layer, data, *, ...)."
        ]
        assert caught[0].filename == __file__
