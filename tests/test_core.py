"""Model plumbing: layer lookup, multi-output extractors, targets, non-mutation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz.core.gradients import score_gradients
from kerasviz.core.graph import rebuild, tap_model
from kerasviz.core.relu_rules import relu_rule_substitute
from kerasviz.testing import unchanged


def manual_forward(layers, x):
    """The reference: call the layers one after another, eagerly."""
    for layer in layers:
        x = layer(x)
    return np.asarray(x)


# --- layer lookup -----------------------------------------------------------


def test_find_layer_by_name_path_index_and_object(nested_seq):
    inner = nested_seq.get_layer("base").get_layer("conv1")
    assert kv.find_layer(nested_seq, "conv1") is inner
    assert kv.find_layer(nested_seq, "base/conv1") is inner
    assert kv.find_layer(nested_seq, inner) is inner
    assert kv.find_layer(nested_seq, 0) is nested_seq.get_layer("base")
    assert kv.find_layer(nested_seq, -1) is nested_seq.get_layer("outer_head")


def test_unknown_layer_lists_closest_names(nested_seq):
    with pytest.raises(kv.LayerNotFoundError, match=r"Closest names: \['conv[12]', 'conv[12]'") as err:
        kv.find_layer(nested_seq, "conv")
    assert "'base/conv1'" in str(err.value)
    with pytest.raises(kv.LayerNotFoundError, match="out of range"):
        kv.find_layer(nested_seq, 10)


def test_ambiguous_name_asks_for_a_path():
    def block(name):
        return keras.Sequential(
            [keras.Input((8, 8, 1)), keras.layers.Conv2D(1, 3, padding="same", name="conv")], name=name
        )

    a, b = block("a"), block("b")
    outer = keras.Sequential([keras.Input((8, 8, 1)), a, b], name="outer")
    with pytest.raises(kv.LayerNotFoundError, match=r"ambiguous.*\['a/conv', 'b/conv'\]"):
        kv.find_layer(outer, "conv")
    assert kv.find_layer(outer, "b/conv") is b.get_layer("conv")
    top = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(1, 1, name="conv"), a], name="top")
    assert kv.find_layer(top, "conv") is top.layers[0]  # an exact top-level path wins


def test_conv_layers_through_nesting(nested_fn):
    assert kv.conv_layers(nested_fn) == ["base/conv1", "base/conv2"]


def test_non_conv_layer_error_lists_convs(cnn):
    with pytest.raises(ValueError, match=r"is a MaxPooling2D, not a 2-D convolution.*\['conv1', 'conv2'\]"):
        kv.filter_weights(cnn, "pool1")


# --- extractors on every kind of model --------------------------------------


def test_functional_extractor_equals_manual_forward(cnn, images):
    acts = kv.activations(cnn, images, ["conv1", "pool1", "conv2"])
    layers = [cnn.get_layer(n) for n in ("conv1", "pool1", "conv2")]
    np.testing.assert_allclose(acts["conv2"], manual_forward(layers, images), atol=1e-5)
    np.testing.assert_allclose(acts["conv1"], manual_forward(layers[:1], images), atol=1e-6)


@pytest.mark.parametrize("fixture", ["nested_seq", "nested_fn"])
def test_nested_extractor_equals_inner_submodel(fixture, request, images):
    model = request.getfixturevalue(fixture)
    base = model.get_layer("base")
    direct = keras.Model(base.inputs[0], [base.get_layer("conv1").output, base.get_layer("conv2").output])
    acts = kv.activations(model, images, ["conv1", "base/conv2"])
    expected = direct(images)
    np.testing.assert_allclose(acts["conv1"], expected[0], atol=1e-6)
    np.testing.assert_allclose(acts["base/conv2"], expected[1], atol=1e-6)


def test_sequential_loaded_from_keras_file_never_called(tmp_path, images):
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(4, 3, activation="relu", name="c1"),
            keras.layers.MaxPooling2D(name="p1"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, name="d"),
        ]
    )
    path = tmp_path / "seq.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # never called: .input/.output raise
    with pytest.raises(AttributeError):
        loaded.output
    acts = kv.activations(loaded, images, ["c1", "p1"])
    np.testing.assert_allclose(acts["p1"], manual_forward(loaded.layers[:2], images), atol=1e-6)


def test_unbuilt_sequential_and_subclassed_models_fail_clearly(images):
    unbuilt = keras.Sequential([keras.layers.Conv2D(2, 3)])
    with pytest.raises(ValueError, match=r"no defined input shape.*keras.Input"):
        kv.activations(unbuilt, images)

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(2, 3)

        def call(self, x):
            return self.conv(x)

    sub = Sub()
    sub(images)
    with pytest.raises(kv.UnsupportedModelError, match="subclassed.*cannot inspect"):
        kv.activations(sub, images)


def test_one_extractor_yields_all_requested_layers_in_one_pass(nested_seq):
    fx = kv.feature_extractor(nested_seq, ["conv1", "conv2"])
    assert set(fx.output) == {"conv1", "conv2"}
    # the head is not part of the extractor: only layers needed for the outputs run
    assert "outer_head" not in [layer.name for layer in fx.layers]


def test_default_layers_are_every_feature_map(nested_seq, images):
    acts = kv.activations(nested_seq, images)
    assert list(acts) == ["base/conv1", "base/pool1", "base/conv2"]
    assert all(a.ndim == 4 and a.shape[0] == len(images) for a in acts.values())


def test_pre_activation_of_fused_relu(cnn, images):
    pre = kv.activations(cnn, images, "conv1", pre_activation=True)["conv1"]
    post = kv.activations(cnn, images, "conv1")["conv1"]
    assert pre.min() < 0 <= post.min()
    np.testing.assert_allclose(np.maximum(pre, 0), post, atol=1e-6)


def test_batched_equals_one_at_a_time(cnn, images):
    batched = kv.activations(cnn, images, "conv2", batch_size=2)["conv2"]
    single = np.stack([kv.activations(cnn, im, "conv2")["conv2"] for im in images])
    np.testing.assert_allclose(batched, single, atol=1e-6)


# --- targets on logits ------------------------------------------------------


def test_softmax_head_is_linearised_on_a_copy(cnn, images):
    tap, _ = tap_model(cnn, [], logits=True)
    logits = np.asarray(tap(images)["__output__"])
    probs = np.asarray(cnn(images))
    np.testing.assert_allclose(keras.ops.softmax(logits).numpy(), probs, atol=1e-6)
    assert cnn.get_layer("head").activation.__name__ == "softmax"


@pytest.mark.parametrize("target", [None, 2, [0, 1, 2, 3, 0], "callable"])
def test_targets_select_one_score_per_sample(cnn, images, target):
    tap, _ = tap_model(cnn, [], logits=True)
    logits = np.asarray(tap(images)["__output__"])
    if target == "callable":
        result = score_gradients(cnn, images, lambda out: out[:, 1] - out[:, 0])
        np.testing.assert_allclose(result.scores, logits[:, 1] - logits[:, 0], atol=1e-5)
        return
    result = score_gradients(cnn, images, target)
    expected = logits.argmax(1) if target is None else np.broadcast_to(target, (5,))
    np.testing.assert_array_equal(result.targets, expected)
    np.testing.assert_allclose(result.scores, logits[np.arange(5), expected], atol=1e-5)


def test_gradient_of_linear_model_is_its_weight():
    model = keras.Sequential([keras.Input((4, 4, 2)), keras.layers.Flatten(), keras.layers.Dense(3, use_bias=False)])
    x = np.random.default_rng(1).normal(size=(2, 4, 4, 2)).astype("float32")
    g = score_gradients(model, x, 1)
    w = model.layers[-1].kernel.numpy()[:, 1].reshape(4, 4, 2)
    np.testing.assert_array_equal(g.input, np.stack([w, w]))


@pytest.mark.parametrize(
    "bad, message",
    [
        (7, r"out of range.*4 outputs"),
        ([1, 2], "2 entries for 5 images"),
        ("cat", "must be None, a class index"),
    ],
)
def test_bad_targets_fail_clearly(cnn, images, bad, message):
    with pytest.raises((ValueError, TypeError), match=message):
        score_gradients(cnn, images, bad)


def test_callable_target_must_return_one_score_per_sample(cnn, images):
    with pytest.raises(ValueError, match="one score per sample"):
        score_gradients(cnn, images, lambda out: out)


def test_layer_unit_gradient_has_receptive_field_support(cnn, images):
    # unit (row 4, col 4, channel 0) of conv1 (3x3, same): support is the 3x3 window
    g = score_gradients(cnn, images, 4 * 16 * 8 + 4 * 8, score_layer="conv1", pre_activation=True)
    support = np.argwhere(np.abs(g.input).sum(axis=(0, 3)) > 0)
    assert support.min(0).tolist() == [3, 3] and support.max(0).tolist() == [5, 5]


def test_relu_rules_change_only_the_backward_pass(cnn, images):
    plain = score_gradients(cnn, images, 1)
    guided = score_gradients(cnn, images, 1, substitute=relu_rule_substitute("guided"), substitute_key="guided")
    np.testing.assert_allclose(plain.scores, guided.scores, atol=1e-6)
    assert not np.allclose(plain.input, guided.input)


# --- input validation -------------------------------------------------------


def test_single_image_and_batch_are_both_accepted(cnn, images):
    one = kv.activations(cnn, images[0], "conv1")["conv1"]
    assert one.shape == (16, 16, 8)  # one image in, one result out: the batch axis is dropped
    np.testing.assert_allclose(one, kv.activations(cnn, images, "conv1")["conv1"][0], atol=1e-6)
    assert kv.activations(cnn, images[:1], "conv1")["conv1"].shape == (1, 16, 16, 8)


def test_uint8_images_equal_their_float_values(cnn):
    pixels = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    a = kv.activations(cnn, pixels, "conv1")["conv1"]
    b = kv.activations(cnn, pixels.astype("float32"), "conv1")["conv1"]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (np.zeros((2, 16, 16, 1)), ValueError, "expects 3 channel"),
        (np.zeros((2, 8, 8, 3)), ValueError, "16x16 pixels"),
        (np.zeros((16,)), ValueError, r"one image \(16, 16, 3\) or a batch"),
        (np.zeros((1, 2, 16, 16, 3)), ValueError, r"one image \(16, 16, 3\) or a batch"),
        (np.full((1, 16, 16, 3), np.nan), ValueError, "NaN or Inf"),
        (np.full((1, 16, 16, 3), np.inf), ValueError, "NaN or Inf"),
        (np.zeros((1, 16, 16, 3), bool), TypeError, "booleans"),
        (np.array([["a"]]), TypeError, "must hold numbers"),
        (np.zeros((0, 16, 16, 3)), ValueError, "is empty"),
    ],
)
def test_bad_images_fail_clearly(cnn, bad, error, message):
    with pytest.raises(error, match=message):
        kv.activations(cnn, bad, "conv1")


def test_grayscale_batch_without_channel_axis():
    model = kv.lenet()
    digits = np.zeros((3, 28, 28), np.uint8)
    assert kv.activations(model, digits, "conv1")["conv1"].shape == (3, 24, 24, 20)
    assert kv.activations(model, digits[0], "conv1")["conv1"].shape == (24, 24, 20)


# --- the user's model is never changed --------------------------------------


def test_no_call_changes_the_model(nested_seq, images):
    with unchanged(nested_seq, images):
        kv.activations(nested_seq, images, ["conv1", "conv2"], pre_activation=True)
        kv.feature_extractor(nested_seq, ["conv2"])
        kv.activation_summary(nested_seq, images, "conv2", progress=False)
        score_gradients(nested_seq, images, None, layers=["conv2"])
        score_gradients(nested_seq, images, 1, substitute=relu_rule_substitute("deconvnet"), substitute_key="d")
        kv.plot_filters(nested_seq, "conv2")


def test_rebuild_shares_weights_and_sees_later_updates(cnn, images):
    inputs, outputs = rebuild(cnn)
    clone = keras.Model(inputs, outputs)
    assert {id(v) for v in clone.weights} <= {id(v) for v in cnn.weights}
    np.testing.assert_allclose(clone(images), cnn(images), atol=1e-7)


# --- tap_model(pre_activation=True) computes each tapped layer once; standalone activations ---


def test_pre_activation_tap_calls_the_conv_once_and_keeps_outputs(cnn, images, monkeypatch):
    plain, _ = tap_model(cnn, ["conv1"])
    tapped, _ = tap_model(cnn, ["conv1"], pre_activation=True)
    calls = []
    original = keras.layers.Conv2D.call
    monkeypatch.setattr(
        keras.layers.Conv2D, "call", lambda self, *a, **k: calls.append(self.name) or original(self, *a, **k)
    )
    out = tapped(images)
    assert sorted(calls) == ["conv1", "conv2"]  # conv1 once (pre-activation), not twice
    np.testing.assert_allclose(out["__output__"], plain(images)["__output__"], atol=1e-6)
    np.testing.assert_allclose(np.maximum(out["conv1"], 0), plain(images)["conv1"], atol=1e-6)
    assert (np.asarray(out["conv1"]) < 0).any()  # really the pre-activation


def test_standalone_activation_layers_have_no_fused_activation():
    from kerasviz.core.graph import has_fused_activation

    for layer in [
        keras.layers.Activation("relu"),
        keras.layers.ReLU(),
        keras.layers.Softmax(),
        keras.layers.LeakyReLU(),
    ]:
        assert not has_fused_activation(layer), layer
    assert has_fused_activation(keras.layers.Conv2D(2, 3, activation="relu"))
    assert not has_fused_activation(keras.layers.Conv2D(2, 3))
    x = inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="c")(x)
    x = keras.layers.Activation("relu", name="act")(x)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    tap, _ = tap_model(model, ["act"], pre_activation=True)  # the Activation's output: nothing to split
    probe = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype("float32")
    assert (np.asarray(tap(probe)["act"]) >= 0).all()


# --- explicit "predicted" targets and the forward-only scorer (attribution, issue 4) ---


def test_target_vector_accepts_explicit_predicted_entries_on_request():
    from kerasviz.core.targets import target_vector

    np.testing.assert_array_equal(target_vector([2, -1, 0], 3, 4, allow_predicted=True), [2, -1, 0])
    with pytest.raises(ValueError, match="out of range"):
        target_vector([2, -1, 0], 3, 4)  # the default still refuses (e.g. class lists to visualize)
    with pytest.raises(ValueError, match="or -1 for the predicted class"):
        target_vector([2, -2, 0], 3, 4, allow_predicted=True)


def test_forward_scores_read_logits_probabilities_and_callables(cnn, images):
    from kerasviz.core.gradients import forward_scorer, forward_scores

    tap, _ = tap_model(cnn, [], logits=True)
    logits = np.asarray(tap(images)["__output__"])
    chosen = np.where(np.array([1, -1, 3, -1, 0]) < 0, logits.argmax(1), [1, -1, 3, -1, 0])
    with unchanged(cnn, images):
        scores, classes = forward_scores(cnn, images, [1, -1, 3, -1, 0], batch_size=2)
        probs, _ = forward_scores(cnn, images, [1, -1, 3, -1, 0], probabilities=True)
        custom, none = forward_scores(cnn, images, lambda out: out[:, 2] - out[:, 1])
    np.testing.assert_array_equal(classes, chosen)
    np.testing.assert_allclose(scores, logits[np.arange(5), chosen], atol=1e-5)
    np.testing.assert_allclose(probs, cnn.predict(images, verbose=0)[np.arange(5), chosen], atol=1e-5)
    np.testing.assert_allclose(custom, logits[:, 2] - logits[:, 1], atol=1e-5)
    assert (none == -1).all() and forward_scorer(cnn) is forward_scorer(cnn)
    mixed = score_gradients(cnn, images, [1, -1, 3, -1, 0])
    np.testing.assert_array_equal(mixed.targets, chosen)


def test_compile_function_counts_traces_per_instance(cnn, images, caplog):
    """TF warns about "excessive retracing" per code object; one step object per model variant
    (here: per tapped layer and score) must not add up to that warning."""
    import logging

    from kerasviz.core.gradients import GradientStep

    caplog.set_level(logging.WARNING, logger="tensorflow")
    for layer in ("conv1", "conv2", "pool1", "gap"):
        for score in (None, lambda out: out[:, 0]):
            step = GradientStep(cnn, [layer], score=score)
            step(images[:2], [0, 1])
            step(images, [0, 1, 2, 3, -1])
            assert step._step.experimental_get_tracing_count() <= 2
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


def test_output_selects_one_output_of_a_multi_output_model():
    """output= picks an output by index, layer name or dict key; several outputs and none chosen is refused."""
    from kerasviz.core.errors import InvalidArgumentError
    from kerasviz.core.gradients import forward_scores, score_gradients

    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3))
    feat = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, activation="relu", name="c")(inp))
    cls = keras.layers.Dense(3, activation="softmax", name="cls")(feat)
    reg = keras.layers.Dense(2, name="reg")(feat)
    x = np.random.default_rng(0).uniform(size=(2, 8, 8, 3)).astype("float32")
    reg_only = keras.Model(inp, reg)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = reg_only(xt)[:, 1]
    expected_grad = tape.gradient(y, xt).numpy()
    for model, names in (
        (keras.Model(inp, [cls, reg]), ("reg", 1, -1)),
        (keras.Model(inp, {"klass": cls, "box": reg}), ("reg", "box")),
    ):
        with pytest.raises(InvalidArgumentError, match="2 outputs"):
            forward_scores(model, x)
        for name in names:
            scores, _ = forward_scores(model, x, 1, output=name)
            np.testing.assert_allclose(scores, y.numpy(), rtol=1e-6)
            np.testing.assert_allclose(
                score_gradients(model, x, 1, output=name).input, expected_grad, rtol=1e-5, atol=1e-7
            )
        with pytest.raises(InvalidArgumentError, match="not an output"):
            forward_scores(model, x, 0, output="nope")
