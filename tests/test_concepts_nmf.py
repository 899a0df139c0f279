"""NMF concept discovery: planted factors, the heatmap sum, reconstruction vs k, streaming, top images."""

import keras
import numpy as np
import pytest
from _checks import global_state_unchanged

import kerasviz as kv
from kerasviz.testing import unchanged

C, SIZE, K = 9, 6, 3


@pytest.fixture(scope="module")
def planted():
    """Activations = U W exactly: three concepts on disjoint channels, non-negative maps; linear GAP head."""
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    w_true = np.zeros((K, C), "float32")
    for j in range(K):
        w_true[j, 3 * j : 3 * j + 3] = rng.uniform(0.5, 1.5, 3)
    u_true = rng.uniform(0, 1, (40, SIZE, SIZE, K)).astype("float32") * (rng.uniform(0, 1, (40, 1, 1, K)) > 0.3)
    images = (u_true @ w_true).astype("float32")
    x = inp = keras.Input((SIZE, SIZE, C))
    feat = keras.layers.Conv2D(C, 1, use_bias=False, activation="relu", name="feat")
    head = keras.layers.Dense(2, name="head")
    model = keras.Model(inp, head(keras.layers.GlobalAveragePooling2D()(feat(x))), name="planted_nmf")
    feat.set_weights([np.eye(C, dtype="float32")[None, None]])
    u = rng.normal(size=C).astype("float32")
    head.set_weights([np.stack([u, -u], 1), np.array([0.3, -0.3], "float32")])
    return dict(model=model, w=w_true, maps=u_true, images=images, u=u, bias=0.3)


def _match(found, true):
    """Permutation of `found` rows best matching `true` rows by cosine (Hungarian)."""
    from scipy.optimize import linear_sum_assignment

    cos = (found / np.linalg.norm(found, axis=1, keepdims=True)) @ (
        true / np.linalg.norm(true, axis=1, keepdims=True)
    ).T
    rows, cols = linear_sum_assignment(-cos)
    return rows[np.argsort(cols)], cos[rows, cols]


def test_planted_concepts_maps_and_importance(planted):
    model, x = planted["model"], planted["images"]
    with unchanged(model, x[:2]), global_state_unchanged():
        result = kv.nmf_concepts(model, "feat", x, K, target=0, batch_size=16, progress=False)
    assert result.components.shape == (K, C) and result.reconstruction_error < 1e-3
    np.testing.assert_allclose(result.components.sum(1), 1.0, rtol=1e-5)
    order, cos = _match(result.components, planted["w"])
    assert cos.min() > 0.999
    # heatmaps: the true maps, scaled by each concept's channel mass (the rows of W sum to 1)
    maps = result.maps(x)
    assert maps.shape == (40, SIZE, SIZE, K) and maps.min() >= 0
    expected = planted["maps"] * planted["w"].sum(1)
    np.testing.assert_allclose(maps[..., order], expected, atol=2e-3 * expected.max())
    # importance: gradient x coefficient, exact on a linear head: sum over concepts = logit - bias
    logits = model.predict(x, verbose=0)[:, 0]
    np.testing.assert_allclose(result.image_importance.sum(1), logits - planted["bias"], rtol=1e-3, atol=1e-3)
    closed = expected.mean(axis=(1, 2)) * (planted["w"] / planted["w"].sum(1, keepdims=True) @ planted["u"])
    np.testing.assert_allclose(result.image_importance[:, order], closed, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(result.coefficients, maps.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    assert (result.classes == 0).all()


def test_maps_sum_to_the_factorised_activations_and_error_falls_with_k(cnn):
    x = np.random.default_rng(0).uniform(0, 1, (120, 16, 16, 3)).astype("float32")
    acts = kv.activations(cnn, x, "conv2")["conv2"]
    errors = []
    for k in (1, 2, 4, 8):
        result = kv.nmf_concepts(cnn, "conv2", x, k, importance=False, progress=False)
        maps = result.maps(x)
        recon = maps @ result.components
        assert maps.min() >= 0
        np.testing.assert_allclose(maps.sum(-1), recon.sum(-1), rtol=1e-5, atol=1e-6)
        error = np.linalg.norm(acts - recon) / np.linalg.norm(acts)
        assert error == pytest.approx(result.reconstruction_error, rel=1e-4)
        errors.append(error)
    assert all(a > b for a, b in zip(errors, errors[1:])), errors


def test_top_images_streaming_and_seed(cnn):
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (90, 16, 16, 3)).astype("float32")
    labels = np.arange(90) % 4
    fit = dict(fit_images=90, max_vectors=90 * 64)  # every vector of every image, whatever quick mode caps
    result = kv.nmf_concepts(cnn, "conv2", x, 4, top=5, labels=labels, batch_size=32, progress=False, **fit)
    peaks = result.maps(x).reshape(90, -1, 4).max(axis=1)  # literal: every image's peak per concept
    for j in range(4):
        best = np.argsort(-peaks[:, j], kind="stable")[:5]
        np.testing.assert_array_equal(result.top_indices[j], best)
        np.testing.assert_allclose(result.top_values[j], peaks[best, j], rtol=1e-5)
    np.testing.assert_array_equal(result.labels, labels[result.top_indices])
    rf = kv.receptive_field(cnn, "conv2")
    assert result.patches.shape == (4, 5) + tuple(rf.size) + (3,)
    r, c = result.top_locations[0, 0]
    assert tuple(result.boxes[0, 0]) == rf.box(r, c)

    def batches():
        for start in range(0, 90, 32):
            yield x[start : start + 32], labels[start : start + 32]

    streamed = kv.nmf_concepts(cnn, "conv2", batches(), 4, top=5, batch_size=32, progress=False, **fit)
    np.testing.assert_allclose(streamed.components, result.components, rtol=1e-6, atol=1e-7)  # all 90 fit both
    np.testing.assert_array_equal(streamed.top_indices, result.top_indices)
    np.testing.assert_array_equal(streamed.labels, result.labels)
    np.testing.assert_array_equal(streamed.patches, result.patches)
    capped = kv.nmf_concepts(cnn, "conv2", batches(), 4, fit_images=32, max_vectors=500, progress=False)
    assert capped.fit_vectors == 500 and capped.count == 90 and capped.coefficients.shape == (90, 4)
    again = kv.nmf_concepts(cnn, "conv2", x, 4, fit_images=40, max_vectors=700, seed=3, progress=False)
    same = kv.nmf_concepts(cnn, "conv2", x, 4, fit_images=40, max_vectors=700, seed=3, progress=False)
    np.testing.assert_array_equal(again.components, same.components)


def test_nested_and_multi_output_models(nested_seq, images):
    import keras

    concepts = kv.nmf_concepts(nested_seq, "base/conv2", images, 3, top=2, progress=False)
    assert concepts.components.shape == (3, 16) and concepts.layer == "base/conv2"
    pool = np.random.default_rng(3).uniform(0, 1, (9, 16, 16, 3)).astype("float32")
    scores = kv.tcav(nested_seq, "conv2", images[:3], images, 1, random_images=pool, random_sets=2, progress=False)
    assert scores.vectors.shape == (8, 8, 16)
    inner = kv.testing.small_cnn(softmax=False)
    two = keras.Model(inner.inputs, [inner.output, keras.layers.Dense(2, name="aux")(inner.get_layer("gap").output)])
    with pytest.raises(kv.InvalidArgumentError, match="output"):
        kv.nmf_concepts(two, "conv2", images, 2, progress=False)
    aux = kv.nmf_concepts(two, "conv2", images, 2, target=1, output="aux", progress=False)
    head = kv.nmf_concepts(two, "conv2", images, 2, target=1, output=0, progress=False)
    assert not np.allclose(aux.image_importance, head.image_importance)
    # the aux head is linear after GAP: d logit / d a(pos) = w[:, 1] / positions, so the importance is closed-form
    w = two.get_layer("aux").get_weights()[0][:, 1]
    closed = aux.maps(images).mean(axis=(1, 2)) * (aux.components @ w)
    np.testing.assert_allclose(aux.image_importance, closed, rtol=1e-4, atol=1e-6)
