"""Core behaviours the families rely on: one-output probabilities after a retrace, model snapshots of
multi-output and multi-input models, gradients of tapped layers that do not reach the score."""

import keras
import numpy as np
import tensorflow as tf

import kerasviz as kv
from kerasviz.core.gradients import forward_scores, gradient_step
from kerasviz.testing import model_state, unchanged

X = np.random.default_rng(0).normal(size=(5, 8, 8, 3)).astype("float32")


def one_logit():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(1, name="logit")(x), name="one_logit")


def test_one_output_probabilities_stay_sigmoid_when_the_batch_size_changes():
    model = one_logit()
    logits = np.asarray(model.predict(X, verbose=0))[:, 0]
    sigmoid = 1 / (1 + np.exp(-logits))
    for n in (5, 3, 2, 5):  # every new batch size retraces the compiled scorer
        scores, classes = forward_scores(model, X[:n], probabilities=True)
        np.testing.assert_allclose(scores, sigmoid[:n], rtol=1e-5, atol=1e-6)
        assert (classes == 0).all()
    scores, _ = forward_scores(model, X, probabilities=True, batch_size=2)  # chunks of 2, 2, 1
    np.testing.assert_allclose(scores, sigmoid, rtol=1e-5, atol=1e-6)


def test_deletion_on_a_one_logit_model_follows_the_sigmoid():
    model = one_logit()
    maps = np.random.default_rng(1).uniform(size=X.shape[:3]).astype("float32")
    _, curves = kv.deletion_auc(model, X, maps, steps=4, mask_batch_size=3, return_curves=True, progress=False)
    # the literal loop: delete the top-ranked pixels (substrate 0) and read the sigmoid
    for i in range(len(X)):
        order = np.argsort(-maps[i].ravel(), kind="stable")
        for j, count in enumerate(np.round(np.linspace(0, 64, 5)).astype(int)):
            x = X[i].copy().reshape(64, 3)
            x[order[:count]] = 0.0
            logit = float(model(x.reshape(1, 8, 8, 3), training=False)[0, 0])
            np.testing.assert_allclose(curves[i, j], 1 / (1 + np.exp(-logit)), rtol=1e-4, atol=1e-5)


def test_model_state_of_multi_output_and_multi_input_models():
    inputs = keras.Input((8, 8, 3))
    g = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3, name="c")(inputs))
    heads = [keras.layers.Dense(2, name="a")(g), keras.layers.Dense(3, name="b")(g)]
    for outputs in (heads, {"a": heads[0], "b": heads[1]}):
        model = keras.Model(inputs, outputs)
        state = model_state(model, X)
        assert [p.shape for p in state[2]] == [(5, 2), (5, 3)]
        with unchanged(model, X):
            pass
    side = keras.Input((4,), name="side")
    joined = keras.layers.Concatenate()([g, side])
    both = keras.Model([inputs, side], [keras.layers.Dense(2)(joined), keras.layers.Dense(1)(joined)])
    probe = [X, np.ones((5, 4), np.float32)]
    with unchanged(both, probe):
        pass
    before = model_state(both, probe)
    both.layers[-1].kernel.assign(both.layers[-1].kernel + 1.0)
    try:
        kv.testing.assert_model_unchanged(before, model_state(both, probe))
    except AssertionError:
        pass
    else:
        raise AssertionError("a changed weight was not noticed")


def test_tapped_layer_that_does_not_reach_the_score_has_zero_gradient():
    inputs = keras.Input((8, 8, 3))
    a = keras.layers.Conv2D(2, 3, name="a")(inputs)
    b = keras.layers.Conv2D(2, 3, name="b")(inputs)
    heads = [
        keras.layers.Dense(3, name="head_a")(keras.layers.Flatten()(a)),
        keras.layers.Dense(2, name="head_b")(keras.layers.Flatten()(b)),
    ]
    model = keras.Model(inputs, heads)
    scores, classes, grad_x, acts, grads = gradient_step(model, ["a", "b"], output=0)(tf.constant(X[:2]))
    assert grads[1] is not None and grads[1].shape == acts[1].shape
    np.testing.assert_array_equal(np.asarray(grads[1]), 0.0)  # b only feeds head_b
    assert np.abs(np.asarray(grads[0])).max() > 0


def test_one_mosaic_helper_behind_the_figures_and_the_embedding_grid():
    from kerasviz.core import mosaic as core
    from kerasviz.dataset import embedding
    from kerasviz.plotting import grid

    tiles = np.random.default_rng(2).uniform(size=(7, 4, 5, 3))
    assert embedding.grid_shape(7) == core.grid_shape(7) == grid.grid_shape(7, max_cols=0) == (3, 3)
    assert grid.normalize_tiles is core.normalize_tiles
    for kwargs in (
        dict(cols=2),
        dict(cells=np.array([[0, 1], [2, 2], [1, 0], [0, 0], [1, 1], [2, 0], [0, 2]]), shape=(3, 3), pad=0),
    ):
        mine, origins = grid.mosaic(tiles, **kwargs)
        np.testing.assert_array_equal(mine, core.mosaic(tiles, **kwargs)[0])
    # the embedding grid's mosaic: one min-max scale, tiles at their cells, white elsewhere (a literal loop)
    cells = np.array([[0, 0], [1, 2], [2, 1]])
    got = embedding.mosaic(tiles[:3], cells, (3, 3))
    scaled = (tiles[:3] - tiles[:3].min()) / (tiles[:3].max() - tiles[:3].min())
    want = np.ones((12, 15, 3), np.float32)
    for tile, (r, c) in zip(scaled, cells):
        want[r * 4 : r * 4 + 4, c * 5 : c * 5 + 5] = tile
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_widgets_and_plots_check_images_with_the_one_normaliser():
    from _checks import assert_clear_error

    model = kv.testing.small_cnn()
    x = np.random.default_rng(3).uniform(size=(2, 16, 16, 3)).astype("float32")
    for widget in (
        kv.widgets.ActivationExplorer,
        kv.widgets.AttributionExplorer,
        kv.widgets.LRPExplorer,
        kv.widgets.DecodingExplorer,
    ):
        assert_clear_error(lambda: widget(model, x[..., :2]), "images")  # wrong channels, before any work
        assert_clear_error(lambda: widget(model, x, display=x[:1]), "display")  # one display image for two
        assert_clear_error(lambda: widget(model, x, display=np.full_like(x, np.nan)), "display")
    assert_clear_error(lambda: kv.plot_attribution("cat.png", np.zeros((16, 16))), "image")
    assert_clear_error(lambda: kv.plot_filter_grid(images=np.full((2, 8, 8, 3), np.nan), units=[0, 1]), "images")
