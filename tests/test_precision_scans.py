"""Dataset scans in bfloat16: float32 results, the same top-k images (near-ties aside), nothing changed."""

import numpy as np
import pytest
import tensorflow as tf
from _checks import assert_clear_error, global_state_unchanged

import kerasviz as kv
from kerasviz.core import precision as P
from kerasviz.testing import small_cnn, top_k_agreement, unchanged

TIE = 2.0**-6  # two bfloat16 steps at a filter's largest score (see kerasviz.testing.top_k_agreement)


@pytest.fixture(scope="module")
def net():
    return small_cnn(name="precision_scans")


@pytest.fixture(scope="module")
def data():
    return np.random.default_rng(0).uniform(0, 1, (240, 16, 16, 3)).astype("float32")


@pytest.fixture(scope="module")
def per_image_max(net, data):
    """`(N, filters)` each image's float32 maximum of every conv2 filter: the reference ranking."""
    return kv.activations(net, data, "conv2")["conv2"].max(axis=(1, 2))


def test_top_k_in_bfloat16_keeps_the_float32_images(net, data, per_image_max):
    with unchanged(net, data[:2]), global_state_unchanged():
        fast = kv.top_activating(net, "conv2", data, k=9, precision="bfloat16", progress=False)
    exact = kv.top_activating(net, "conv2", data, k=9, precision="float32", progress=False)
    assert fast.precision == "bfloat16" and exact.precision == "float32"
    assert fast.values.dtype == np.float32 and fast.layer == exact.layer == "conv2"
    on_grid = tf.cast(tf.cast(fast.values, tf.bfloat16), tf.float32).numpy()
    np.testing.assert_array_equal(fast.values, on_grid)  # the maxima of a map computed in bfloat16
    assert not np.array_equal(exact.values, tf.cast(tf.cast(exact.values, tf.bfloat16), tf.float32).numpy())
    assert top_k_agreement(per_image_max, exact.indices) == (1.0, 1.0)  # the reference is the float32 scan
    identical, up_to_ties = top_k_agreement(per_image_max, fast.indices, tie=TIE)
    assert up_to_ties >= 0.95 and identical >= 0.5
    # the returned maxima are the float32 ones to bfloat16 resolution
    truth = np.take_along_axis(per_image_max.T, fast.indices, axis=1)
    error = np.abs(fast.values - truth) / np.abs(per_image_max).max(axis=0)[:, None]
    assert error.max() <= TIE and np.median(error) <= 2.0**-8
    np.testing.assert_array_equal(fast.boxes.shape, exact.boxes.shape)


def test_top_k_from_a_stream_and_neuron_features(net, data, per_image_max):
    stream = (data[i : i + 50] for i in range(0, len(data), 50))
    fast = kv.top_activating(net, "conv2", stream, k=5, precision="bfloat16", progress=False)
    assert fast.count == len(data) and top_k_agreement(per_image_max, fast.indices, tie=TIE)[1] >= 0.95
    nf = kv.neuron_feature(net, "conv2", data, k=5, precision="bfloat16", progress=False)
    exact = kv.neuron_feature(net, "conv2", data, k=5, precision="float32", progress=False)
    assert nf.top.precision == "bfloat16" and nf.images.dtype == np.float32
    same = [f for f in range(16) if set(nf.top.indices[f]) == set(exact.top.indices[f])]
    assert len(same) >= 12  # where the images agree the features agree to bfloat16 weights
    np.testing.assert_allclose(nf.images[same], exact.images[same], atol=0.02)


def test_summaries_and_dead_filters_in_bfloat16(net, data):
    with unchanged(net, data[:2]), global_state_unchanged():
        fast = kv.activation_summary(net, ["conv1", "conv2"], data, precision="bfloat16", progress=False)
    exact = kv.activation_summary(net, ["conv1", "conv2"], data, precision="float32", progress=False)
    for key in ("conv1", "conv2"):
        f, e = fast[key], exact[key]
        assert f.precision == "bfloat16" and e.precision == "float32" and f.apoz.dtype == np.float32
        np.testing.assert_allclose(f.apoz, e.apoz, atol=0.01)
        np.testing.assert_allclose(f.max, e.max, rtol=0, atol=TIE * e.max.max())
        np.testing.assert_allclose(f.mean, e.mean, rtol=0.01, atol=1e-3 * e.max.max())
        np.testing.assert_array_equal(f.never_active, e.never_active)
    dead = kv.dead_filters(net, None, data, precision="bfloat16", progress=False)
    assert {k: s.precision for k, s in dead.summaries.items()} == {"conv1": "bfloat16", "conv2": "bfloat16"}


def test_filter_correlation_in_bfloat16(net, data):
    fast = kv.filter_similarity(net, "conv2", data[:120], precision="bfloat16", progress=False)
    exact = kv.filter_similarity(net, "conv2", data[:120], precision="float32", progress=False)
    assert fast.precision == "bfloat16" and kv.filter_similarity(net, "conv2").precision == "float32"
    np.testing.assert_array_equal(np.isnan(fast.correlation), np.isnan(exact.correlation))
    np.testing.assert_allclose(fast.correlation, exact.correlation, atol=0.01)
    np.testing.assert_array_equal(fast.cosine, exact.cosine)  # kernels: never through the model
    pairs = kv.redundant_filters(
        net, "conv2", data[:120], correlation_threshold=0.5, precision="bfloat16", progress=False
    )
    assert all(-1 <= p.score <= 1 for p in pairs)


def test_auto_follows_the_hardware(net, data, monkeypatch):
    expected = "bfloat16" if P.bfloat16_support()[0] else "float32"
    assert kv.top_activating(net, "conv2", data[:20], k=2, progress=False).precision == expected
    monkeypatch.setattr(P, "bfloat16_support", lambda: (True, "test"))
    assert kv.top_activating(net, "conv2", data[:20], k=2, progress=False).precision == "bfloat16"
    assert kv.activation_summary(net, "conv2", data[:20], progress=False).precision == "bfloat16"
    monkeypatch.setattr(P, "bfloat16_support", lambda: (False, "test"))
    assert kv.top_activating(net, "conv2", data[:20], k=2, progress=False).precision == "float32"


@pytest.mark.parametrize(
    "call",
    [
        lambda m, x, p: kv.top_activating(m, "conv2", x, precision=p),
        lambda m, x, p: kv.neuron_feature(m, "conv2", x, precision=p),
        lambda m, x, p: kv.activation_summary(m, "conv2", x, precision=p),
        lambda m, x, p: kv.dead_filters(m, None, x, precision=p),
        lambda m, x, p: kv.filter_similarity(m, "conv2", x, precision=p),
        lambda m, x, p: kv.redundant_filters(m, "conv2", x, precision=p),
    ],
    ids=[
        "top_activating",
        "neuron_feature",
        "activation_summary",
        "dead_filters",
        "filter_similarity",
        "redundant_filters",
    ],
)
@pytest.mark.parametrize("value", ["float16", "BF16", None, 16])
def test_bad_precision_is_refused_before_any_work(net, data, call, value):
    assert_clear_error(lambda: call(net, data[:4], value), "precision")
