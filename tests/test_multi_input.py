"""Multi-input models: the image input is explained, the other inputs are held fixed.

The reference for every method is the same method on a single-input twin: the same layers with
image i's metadata baked in as a constant. A method that held the side input fixed per image, in
every expanded batch (path points, noisy copies, occluded copies, masks), gives exactly the twin's
map; one that mixed rows between images, or dropped the side input, does not.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from _checks import assert_clear_error

import kerasviz as kv
from kerasviz.testing import unchanged

N, SIDE, META = 3, 8, 4


class Constant(keras.layers.Layer):
    """Outputs one fixed row for every image of the batch (the twin's baked-in metadata)."""

    def __init__(self, value, **kwargs):
        super().__init__(**kwargs)
        self.value = np.asarray(value, np.float32)

    def call(self, x):
        return keras.ops.broadcast_to(self.value[None], (keras.ops.shape(x)[0], self.value.shape[0]))


def layers():
    keras.utils.set_random_seed(0)
    return {
        "conv": keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv"),
        "gap": keras.layers.GlobalAveragePooling2D(name="gap"),
        "merge": keras.layers.Concatenate(name="merge"),
        "mix": keras.layers.Dense(8, activation="relu", name="mix"),
        "head": keras.layers.Dense(3, name="head"),
    }


L = layers()


def forward(image, meta):
    x = L["gap"](L["conv"](image))
    return L["head"](L["mix"](L["merge"]([x, meta])))


@pytest.fixture(scope="module")
def model():
    image, meta = keras.Input((SIDE, SIDE, 3), name="image"), keras.Input((META,), name="meta")
    return keras.Model([image, meta], forward(image, meta), name="two_inputs")


def twin(meta_row):
    image = keras.Input((SIDE, SIDE, 3))
    return keras.Model(image, forward(image, Constant(meta_row)(image)), name="twin")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, (N, SIDE, SIDE, 3)).astype("float32"), rng.normal(0, 2, (N, META)).astype("float32")


def test_the_side_input_changes_the_prediction(model, data):
    x, meta = data
    a = model.predict([x, meta], verbose=0)
    b = model.predict([x, meta[::-1]], verbose=0)
    assert np.abs(a - b).max() > 0.1


def test_gradient_equals_a_manual_tape_with_the_side_input_fixed(model, data):
    x, meta = data
    image = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(image)
        score = model([image, tf.constant(meta)])[:, 1]
    expected = tape.gradient(score, image).numpy()
    with unchanged(model, [x[:1], meta[:1]]):
        np.testing.assert_allclose(kv.gradient(model, [x, meta], 1, progress=False), expected, atol=1e-6)
        np.testing.assert_allclose(
            kv.gradient(model, {"meta": meta, "image": x}, 1, progress=False), expected, atol=1e-6
        )


METHODS = {
    "saliency": lambda m, x, t: kv.saliency(m, x, t, progress=False),
    "smoothgrad": lambda m, x, t: kv.smoothgrad(m, x, t, samples=4, progress=False),
    "integrated_gradients": lambda m, x, t: kv.integrated_gradients(m, x, t, steps=4, progress=False).attributions,
    "occlusion": lambda m, x, t: kv.occlusion(m, x, t, patch=4, stride=2, progress=False),
    "grad_cam": lambda m, x, t: kv.grad_cam(m, x, t, layer="conv", normalize=False, progress=False),
    "hires_cam": lambda m, x, t: kv.hires_cam(m, x, t, layer="conv", normalize=False),
    "rise": lambda m, x, t: kv.rise(m, x, t, samples=16, grid_size=2, progress=False),
    "gradient_x_input": lambda m, x, t: kv.gradient_x_input(m, x, t),
}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_each_image_is_explained_with_its_own_side_row(model, data, method):
    x, meta = data
    fn = METHODS[method]
    with unchanged(model, [x[:1], meta[:1]]):
        maps = fn(model, [x, meta], 1)
    for i in range(N):
        np.testing.assert_allclose(maps[i], fn(twin(meta[i]), x[i], 1), atol=2e-5, rtol=1e-4, err_msg=f"image {i}")
    one = fn(model, [x[1], meta[1]], 1)  # one image, one row: the batch axis is dropped
    np.testing.assert_allclose(one, maps[1], atol=2e-5, rtol=1e-4)


def test_one_shared_row_is_used_for_every_image(model, data):
    x, meta = data
    shared = kv.saliency(model, [x, meta[0]], 2, progress=False)
    np.testing.assert_allclose(shared, kv.saliency(model, [x, np.repeat(meta[:1], N, 0)], 2, progress=False))


def test_lrp_zero_is_gradient_times_input_on_a_bias_free_relu_model(data):
    x, meta = data
    keras.utils.set_random_seed(1)
    image, side = keras.Input((SIDE, SIDE, 3)), keras.Input((META,))
    a = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, activation="relu", use_bias=False)(image))
    h = keras.layers.Dense(6, activation="relu", use_bias=False)(keras.layers.Concatenate()([a, side]))
    model = keras.Model([image, side], keras.layers.Dense(3, use_bias=False)(h))
    relevance = np.asarray(kv.lrp(model, [x, np.abs(meta)], 0, rule="epsilon", epsilon=1e-9, progress=False))
    gradient = kv.gradient(model, [x, np.abs(meta)], 0, progress=False)
    np.testing.assert_allclose(relevance, x * gradient, atol=1e-5)


def test_activations_need_the_side_input_only_for_layers_that_read_it(model, data):
    x, meta = data
    image_only = kv.activations(model, x, ["conv"], progress=False)["conv"]
    both = kv.activations(model, [x, meta], ["conv", "mix"], progress=False)
    np.testing.assert_allclose(both["conv"], image_only, atol=1e-6)
    expected = keras.Model(model.inputs, model.get_layer("mix").output)([x, meta]).numpy()
    np.testing.assert_allclose(both["mix"], expected, atol=1e-5)
    assert_clear_error(lambda: kv.activations(model, x, ["mix"], progress=False), "images", match="meta")


def test_image_branch_views_work_from_images_alone(model, data):
    x, _ = data
    top = kv.top_activating(model, "conv", x, k=1, progress=False)
    assert top.values.shape == (6, 1)
    features = kv.visualize_filters(model, "conv", [0, 1], steps=2, progress=False)
    assert features.images.shape[0] == 2
    assert_clear_error(lambda: kv.top_activating(model, "mix", x, k=1, progress=False), match="meta")


def test_input_is_chosen_by_index_or_name(model, data):
    x, meta = data
    by_default = kv.saliency(model, [x, meta], 0, progress=False)
    np.testing.assert_array_equal(kv.saliency(model, [x, meta], 0, input="image", progress=False), by_default)
    np.testing.assert_array_equal(kv.saliency(model, [x, meta], 0, input=0, progress=False), by_default)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda m, x, meta: kv.saliency(m, [x, meta[:2]]), "images['meta']"),
        (lambda m, x, meta: kv.saliency(m, [x, meta[:, :3]]), "images['meta']"),
        (lambda m, x, meta: kv.saliency(m, {"image": x, "metadata": meta}), "images"),
        (lambda m, x, meta: kv.saliency(m, {"meta": meta}), "images"),
        (lambda m, x, meta: kv.saliency(m, [x, meta], input="pixels"), "input"),
        (lambda m, x, meta: kv.saliency(m, [x, meta], input=2), "input"),
        (lambda m, x, meta: kv.saliency(m, [x, meta], input=1.5), "input"),
        (lambda m, x, meta: kv.saliency(m, x), "images"),  # the head reads the metadata: it must be given
        (lambda m, x, meta: kv.saliency(m, [x, meta], input="meta"), None),  # a vector input has no positions
        (lambda m, x, meta: kv.score_cam(m, [x, meta], layer="conv"), None),  # reads the head without the side input
        (lambda m, x, meta: kv.mu_fidelity(m, [x, meta], np.ones((N, SIDE, SIDE))), None),
    ],
)
def test_bad_multi_input_calls_fail_clearly(model, data, call, argument):
    x, meta = data
    assert_clear_error(lambda: call(model, x, meta), argument)


def test_dict_inputs_with_the_image_second_and_a_nested_multi_input_model(data):
    x, meta = data
    photo, age = keras.Input((SIDE, SIDE, 3), name="photo"), keras.Input((META,), name="age")
    inner = keras.Model({"photo": photo, "age": age}, forward(photo, age), name="inner")  # inputs: age, photo
    image, side = keras.Input((SIDE, SIDE, 3)), keras.Input((META,))
    outer = keras.Model([image, side], keras.layers.Dense(2)(inner({"photo": image, "age": side})), name="outer")
    expected = kv.saliency(twin(meta[0]), x[0], 1, progress=False)
    np.testing.assert_allclose(kv.saliency(inner, {"photo": x, "age": meta}, 1, progress=False)[0], expected, atol=1e-6)
    np.testing.assert_allclose(kv.saliency(inner, [meta, x], 1, progress=False)[0], expected, atol=1e-6)
    cam = kv.grad_cam(outer, [x, meta], layer="inner/conv", progress=False)
    assert cam.shape == (N, SIDE, SIDE)
    np.testing.assert_allclose(
        kv.activations(outer, x, ["inner/conv"], progress=False)["inner/conv"],
        kv.activations(inner, {"photo": x, "age": meta}, ["conv"], progress=False)["conv"],
    )
