"""Token layers `(N, tokens, c)` read as feature maps through `reshape=`, on a small Keras ViT.

The ViT: a 4x4-pixel patch embedding (Conv2D), 16 patch tokens, a learned class token in front,
one transformer block (LayerNorm, multi-head attention, MLP), and a head on the class token.
Grad-CAM at the block's first LayerNorm (as pytorch-grad-cam does for ViTs: the last block's
output only feeds the class token) equals the formula computed by hand on a gradient tape.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from _checks import assert_clear_error

import kerasviz as kv
from kerasviz.testing import unchanged

SIDE, PATCH, DIM = 16, 4, 16
GRID = SIDE // PATCH


class ClassToken(keras.layers.Layer):
    """A learned token put in front of the patch tokens."""

    def build(self, shape):
        self.token = self.add_weight(shape=(1, 1, shape[-1]), initializer="random_normal", name="token")

    def call(self, x):
        return keras.ops.concatenate([keras.ops.tile(self.token, [keras.ops.shape(x)[0], 1, 1]), x], axis=1)


def patch_tokens(x):
    x = keras.layers.Conv2D(DIM, PATCH, strides=PATCH, name="patches")(x)
    return keras.layers.Reshape((GRID * GRID, DIM), name="tokens")(x)


@pytest.fixture(scope="module")
def vit():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIDE, SIDE, 3))
    x = ClassToken(name="cls")(patch_tokens(inputs))
    h = keras.layers.LayerNormalization(name="norm1")(x)
    x = keras.layers.Add(name="add1")([x, keras.layers.MultiHeadAttention(2, 8, name="attention")(h, h)])
    h = keras.layers.Dense(32, activation="gelu", name="mlp1")(keras.layers.LayerNormalization(name="norm2")(x))
    x = keras.layers.Add(name="add2")([x, keras.layers.Dense(DIM, name="mlp2")(h)])
    x = keras.layers.Lambda(lambda t: t[:, 0], name="class_token")(keras.layers.LayerNormalization(name="norm")(x))
    return keras.Model(inputs, keras.layers.Dense(5, name="head")(x), name="tiny_vit")


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0, 1, (2, SIDE, SIDE, 3)).astype("float32")


def test_grad_cam_on_tokens_equals_the_formula_on_a_tape(vit, images):
    probe = keras.Model(vit.input, [vit.get_layer("norm1").output, vit.output])
    with tf.GradientTape() as tape:
        tokens, logits = probe(images)
        score = logits[:, 3]
    grads = tape.gradient(score, tokens).numpy()[:, 1:].reshape(2, GRID, GRID, DIM)  # class token dropped
    acts = tokens.numpy()[:, 1:].reshape(2, GRID, GRID, DIM)
    expected = np.einsum("nhwk,nk->nhw", acts, grads.mean((1, 2)))
    with unchanged(vit, images[:1]):
        cam = kv.grad_cam(
            vit,
            images,
            3,
            layer="norm1",
            reshape=(GRID, GRID),
            relu=False,
            normalize=False,
            upsample=False,
            progress=False,
        )
    np.testing.assert_allclose(cam, expected, atol=1e-5)
    assert np.abs(expected).max() > 1e-4  # the patch tokens do get gradient through the attention
    full = kv.grad_cam(vit, images, 3, layer="norm1", reshape=(GRID, GRID), progress=False)
    assert full.shape == (2, SIDE, SIDE) and full.max() == pytest.approx(1.0)
    as_function = lambda t: tf.reshape(t[:, 1:], (-1, GRID, GRID, DIM))  # pytorch-grad-cam's reshape_transform
    np.testing.assert_allclose(
        kv.grad_cam(vit, images, 3, layer="norm1", reshape=as_function, progress=False), full, atol=1e-6
    )


def test_activations_of_token_layers_as_grids(vit, images):
    raw = kv.activations(vit, images, ["norm1", "add2"], progress=False)
    grids = kv.activations(vit, images, ["norm1", "add2"], reshape=(GRID, GRID), progress=False)
    for key in raw:
        assert raw[key].shape == (2, GRID * GRID + 1, DIM)
        np.testing.assert_allclose(grids[key], raw[key][:, 1:].reshape(2, GRID, GRID, DIM), atol=1e-6)
        np.testing.assert_allclose(kv.token_grid(raw[key], (GRID, GRID)), grids[key], atol=1e-6)


def test_lrp_through_attention_is_refused_by_name(vit, images):
    err = assert_clear_error(lambda: kv.lrp(vit, images, rule="epsilon", progress=False))
    assert isinstance(err, kv.UnsupportedLayerError) and ("cls" in str(err) or "attention" in str(err))


def test_lrp_epsilon_through_a_token_mlp_conserves_at_every_token_layer(images):
    """Patch embedding, LayerNorm (LN-rule) and per-token Dense layers, mean over tokens, head: bias-free."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((SIDE, SIDE, 3))
    x = keras.layers.Conv2D(DIM, PATCH, strides=PATCH, use_bias=False, name="patches")(inputs)
    x = keras.layers.Reshape((GRID * GRID, DIM), name="tokens")(x)
    x = keras.layers.LayerNormalization(center=False, name="norm")(x)
    x = keras.layers.Dense(DIM, activation="relu", use_bias=False, name="mlp")(x)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    model = keras.Model(inputs, keras.layers.Dense(5, use_bias=False, name="head")(x))
    result = kv.lrp(model, images, 1, rule="epsilon", epsilon=1e-9, return_layers=True, progress=False)
    for layer in ("norm", "mlp"):
        grid = kv.token_grid(result.layers[layer], (GRID, GRID))
        assert grid.shape == (2, GRID, GRID, DIM)
        np.testing.assert_allclose(grid.sum((1, 2, 3)), result.scores, rtol=1e-4)
    np.testing.assert_allclose(result.input.sum((1, 2, 3)), result.scores, rtol=1e-4)
    cam = kv.grad_cam(model, images, 1, layer="mlp", reshape=(GRID, GRID), progress=False)
    assert cam.shape == (2, SIDE, SIDE)


@pytest.mark.parametrize(
    "call, argument, match",
    [
        (lambda m, x: kv.grad_cam(m, x, layer="norm1"), "layer", r"reshape=\(4, 4\)"),  # suggests the grid
        (lambda m, x: kv.grad_cam(m, x, layer="norm1", reshape=(5, 5)), "reshape", "25 tokens"),
        (lambda m, x: kv.grad_cam(m, x, layer="patches", reshape=(4, 4)), "reshape", "already a feature map"),
        (lambda m, x: kv.grad_cam(m, x, layer="norm1", reshape=(4, 0)), "reshape", None),
        (lambda m, x: kv.grad_cam(m, x, layer="norm1", reshape="4x4"), "reshape", None),
        (lambda m, x: kv.activations(m, x, ["class_token"], reshape=(4, 4)), "reshape", None),
        (lambda m, x: kv.token_grid(np.zeros((2, 10, 3)), (4, 4)), "reshape", None),
    ],
)
def test_bad_token_settings_fail_clearly(vit, images, call, argument, match):
    assert_clear_error(lambda: call(vit, images), argument, match=match)


def test_patch_embedding_views_and_input_maps(vit, images):
    assert kv.saliency(vit, images, progress=False).shape == (2, SIDE, SIDE)
    assert kv.occlusion(vit, images, patch=PATCH, stride=PATCH, progress=False).shape == (2, SIDE, SIDE)
    top = kv.top_activating(vit, "patches", images, k=1, progress=False)
    assert top.patches.shape[:2] == (DIM, 1) and top.patches.shape[2:4] == (PATCH, PATCH)
    assert kv.visualize_filters(vit, "patches", [0, 1], steps=2, progress=False).images.shape[0] == 2
