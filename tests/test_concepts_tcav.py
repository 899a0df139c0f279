"""CAV / TCAV on a model whose class logit rises along a known direction of a layer."""

import keras
import numpy as np
import pytest
from _checks import global_state_unchanged

import kerasviz as kv
from kerasviz.testing import unchanged

C, SIZE = 12, 5


@pytest.fixture(scope="module")
def planted():
    """feat = identity 1x1 conv; logit_0 = u.m + w.relu(R m) with m = GAP(feat) and R's rows orthogonal to u.

    The gradient of logit_0 w.r.t. feat is (u + R^T diag(relu') w) / positions at every position, so its
    dot product with any direction d ∝ u is |u|·|d| / positions > 0 for every image (TCAV exactly 1),
    while a random direction's sign depends on the image through the ReLUs.
    """
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    u = rng.normal(size=C).astype("float32")
    r = rng.normal(size=(8, C)).astype("float32")
    r -= np.outer(r @ u / (u @ u), u)
    w = rng.normal(size=8).astype("float32")
    x = inp = keras.Input((SIZE, SIZE, C))
    feat = keras.layers.Conv2D(C, 1, use_bias=False, name="feat")
    m = keras.layers.GlobalAveragePooling2D(name="gap")(feat(x))
    hidden = keras.layers.Dense(8, activation="relu", use_bias=False, name="hidden")
    head = keras.layers.Dense(2, name="head")
    out = head(keras.layers.Concatenate()([m, hidden(m)]))
    model = keras.Model(inp, out, name="planted")
    feat.set_weights([np.eye(C, dtype="float32")[None, None]])
    hidden.set_weights([r.T])
    head.set_weights([np.stack([np.concatenate([u, w]), -np.concatenate([u, w])], 1), np.zeros(2, "float32")])
    d = u / np.linalg.norm(u)
    noise = lambda n: rng.normal(size=(n, SIZE, SIZE, C)).astype("float32")
    return dict(
        model=model,
        d=d,
        noise=noise,
        concept=noise(16) + 1.0 * d,
        opposite=noise(16) - 1.0 * d,
        pool=noise(16 * 11),
        images=noise(24),
        fake=noise(16),
    )


def test_cav_recovers_the_planted_direction(planted):
    model = planted["model"]
    with unchanged(model, planted["images"][:2]), global_state_unchanged():
        v = kv.cav(model, "feat", planted["concept"], planted["pool"][:32], progress=False)
    assert v.shape == (SIZE, SIZE, C) and np.isclose(np.linalg.norm(v.vector), 1.0, atol=1e-5)
    mean = v.vector.reshape(-1, C).mean(0)
    assert mean @ planted["d"] / np.linalg.norm(mean) > 0.9
    assert v.accuracy > 0.9
    again = kv.cav(model, "feat", planted["concept"], planted["pool"][:32], progress=False)
    np.testing.assert_array_equal(v.vector, again.vector)  # same seed, same CAV


def test_tcav_scores_and_significance(planted):
    model = planted["model"]
    concepts = {"along": planted["concept"], "opposite": planted["opposite"], "random": planted["fake"]}
    with unchanged(model, planted["images"][:2]), global_state_unchanged():
        result = kv.tcav(
            model, "feat", concepts, planted["images"], 0, random_images=planted["pool"], random_sets=10, progress=False
        )
    assert result.concepts == ["along", "opposite", "random"]
    np.testing.assert_array_equal(result.scores[0], 1.0)  # exactly: S(x) = |u| cos / positions > 0 for all x
    np.testing.assert_array_equal(result.scores[1], 0.0)
    assert list(result.significant) == [True, True, False], result.p_value
    assert result.alpha == pytest.approx(0.05 / 3)
    # the random-vs-random chance scores spread around 0.5 on this non-linear head
    assert 0.2 < result.random_scores.mean() < 0.8 and result.random_scores.std() > 0
    # derivatives are the layer gradient dotted with the CAV: the sign test is their fraction > 0
    np.testing.assert_allclose((result.derivatives > 0).mean(-1), result.scores)
    assert result.vectors.shape == (3, SIZE, SIZE, C)
    assert result.vectors[0].reshape(-1, C).mean(0) @ planted["d"] > 0


def test_tcav_single_concept_explicit_sets_and_seed(planted):
    model = planted["model"]
    sets = [planted["pool"][i * 16 : (i + 1) * 16] for i in range(4)]
    result = kv.tcav(model, "feat", planted["concept"], planted["images"], 0, random_sets=sets, progress=False)
    assert isinstance(result.score, float) and result.score == 1.0 and isinstance(result.significant, bool)
    assert result.scores.shape == (3,) and result.derivatives.shape == (3, 24)
    twice = [
        kv.tcav(
            model,
            "feat",
            planted["fake"],
            planted["images"],
            0,
            random_images=planted["pool"],
            random_sets=3,
            seed=5,
            progress=False,
        )
        for _ in range(2)
    ]
    np.testing.assert_array_equal(twice[0].derivatives, twice[1].derivatives)
    assert twice[0].p_value == twice[1].p_value


def test_tcav_predicted_targets_on_small_cnn(cnn, images):
    rng = np.random.default_rng(1)
    bright = rng.uniform(0.6, 1.0, (8, 16, 16, 3)).astype("float32")
    pool = rng.uniform(0, 1, (24, 16, 16, 3)).astype("float32")
    result = kv.tcav(cnn, "conv2", bright, images, random_images=pool, random_sets=2, progress=False)
    assert 0.0 <= result.score <= 1.0 and result.classes.shape == (5,)
    np.testing.assert_array_equal(result.classes, np.argmax(cnn.predict(images, verbose=0), -1))


def test_plot_tcav(planted):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result = kv.tcav(
        planted["model"],
        "feat",
        {"along": planted["concept"], "random": planted["fake"]},
        planted["images"],
        0,
        random_images=planted["pool"],
        random_sets=10,
        progress=False,
    )
    with global_state_unchanged():
        fig = kv.plot_tcav(result)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "n.s." in texts and any(t.startswith("p=") for t in texts)
    plt.close(fig)
