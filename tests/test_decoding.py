"""Filter decoding with substitution: the vectorised decoder against the paper's literal algorithm.

`literal_decode` below is the paper's pseudo-code written out with loops over
positions, filters and channels in float64 numpy, with its own `imresize`
(weights computed per output pixel, mirrored borders): it shares no code with
`kerasviz.decoding`, so agreement to round-off is evidence, not tautology.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz.core.errors import UnsupportedLayerError
from kerasviz.decoding.substitution import decoding_plan
from kerasviz.testing import unchanged

# ----------------------------------------------------------------------------- the literal algorithm


def _kernel_weight(method, d):
    d = abs(d)
    if method == "nearest":
        return None  # handled by the box rule below
    if method == "bilinear":
        return max(0.0, 1 - d)
    if d <= 1:
        return 1.5 * d**3 - 2.5 * d**2 + 1
    if d <= 2:
        return -0.5 * d**3 + 2.5 * d**2 - 4 * d + 2
    return 0.0


def literal_imresize_1d(v, factor, method):
    """MATLAB imresize(v, factor, method) on a 1-D signal, one output pixel at a time."""
    n = len(v)
    out = np.zeros(n * factor)
    for x in range(1, n * factor + 1):
        u = x / factor + 0.5 * (1 - 1 / factor)
        total, acc = 0.0, 0.0
        for j in range(int(np.floor(u)) - 3, int(np.floor(u)) + 4):
            if method == "nearest":
                w = 1.0 if -0.5 <= u - j < 0.5 else 0.0
            else:
                w = _kernel_weight(method, u - j)
            i = j
            while i < 1 or i > n:  # symmetric (mirror) boundary
                i = 1 - i if i < 1 else 2 * n + 1 - i
            acc += w * v[i - 1]
            total += w
        out[x - 1] = acc / total
    return out


def literal_unpool(channel, factors, method):
    rows = np.stack([literal_imresize_1d(r, factors[1], method) for r in channel])
    return np.stack([literal_imresize_1d(c, factors[0], method) for c in rows.T]).T


def literal_subst(stack, kernel, strides):
    """subst(S, W): paste W[:, :, c, k] * S[y, x, k] at (s*y, s*x), summing overlaps and upper channels."""
    h, w, upper = stack.shape
    kh, kw, lower, _ = kernel.shape
    out = np.zeros(((h - 1) * strides[0] + kh, (w - 1) * strides[1] + kw, lower))
    for y in range(h):
        for x in range(w):
            for k in range(upper):
                if stack[y, x, k] == 0:
                    continue
                for c in range(lower):
                    out[y * strides[0] : y * strides[0] + kh, x * strides[1] : x * strides[1] + kw, c] += (
                        stack[y, x, k] * kernel[:, :, c, k]
                    )
    return out


def literal_decode(layers, k, method):
    """The paper's filter_decoding(L, k): `layers` top first, ("conv", W, strides) / ("pool", factors) / ("scale", v)."""
    (_, top, _), below = layers[0], layers[1:]
    stack = np.asarray(top, np.float64)[:, :, :, k]  # df^{L,L-1} = f_k^L
    for kind, param, strides in below:
        if kind == "conv":
            stack = literal_subst(stack, np.asarray(param, np.float64), strides)
        elif kind == "pool":
            stack = np.stack([literal_unpool(stack[..., c], param, method) for c in range(stack.shape[-1])], -1)
        else:
            stack = stack * np.asarray(param, np.float64)
    return stack


def lenet_layers(net, name):
    order = ["conv4", "pool2x", "conv3", "pool2", "conv2", "pool1", "conv1"]
    chain = {"conv4": order, "conv3": order[2:], "conv2": order[4:], "conv1": order[6:]}[name]
    return [
        ("pool", (2, 2), None) if n.startswith("pool") else ("conv", net.get_layer(n).kernel.numpy(), (1, 1))
        for n in chain
        if n != "pool2x"
    ]


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def net():
    return kv.lenet(seed=3)


@pytest.fixture(scope="module")
def odd_net():
    """'same' padding, a strided conv, BatchNorm with real statistics, a 3x3 pool, a fused ReLU."""
    keras.utils.set_random_seed(1)
    x = inputs = keras.Input((23, 23, 2))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.MaxPooling2D(3, name="p1")(x)
    x = keras.layers.Conv2D(6, (3, 2), strides=2, padding="same", name="c2")(x)
    x = keras.layers.Conv2D(5, 2, name="c3")(x)
    model = keras.Model(inputs, x, name="odd")
    bn = model.get_layer("bn1")
    rng = np.random.default_rng(0)
    bn.set_weights([rng.uniform(0.5, 2, 4), rng.normal(size=4), rng.normal(size=4), rng.uniform(0.2, 3, 4)])
    return model


# ----------------------------------------------------------------------------- decoder == literal algorithm


@pytest.mark.parametrize("method", ["bicubic", "nearest", "bilinear"])
def test_decoder_equals_literal_algorithm(net, method):
    for name, ks in [("conv2", [0, 17, 49]), ("conv3", [3, 250]), ("conv4", [0, 9])]:
        decoded = kv.decode_filters(net, name, unpool=method, filters=ks, dtype="float64")
        for row, k in enumerate(ks):
            expected = literal_decode(lenet_layers(net, name), k, method)
            assert decoded[row].shape == expected.shape
            np.testing.assert_allclose(decoded[row], expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max())


def test_decoder_equals_literal_with_strides_same_padding_and_batchnorm(odd_net):
    bn = odd_net.get_layer("bn1")
    gamma, _, _, var = bn.get_weights()
    scale = gamma / np.sqrt(var + bn.epsilon)
    layers = [
        ("conv", odd_net.get_layer("c3").kernel.numpy(), (1, 1)),
        ("conv", odd_net.get_layer("c2").kernel.numpy(), (2, 2)),
        ("pool", (3, 3), None),
        ("scale", scale, None),
        ("conv", odd_net.get_layer("c1").kernel.numpy(), (1, 1)),
    ]
    for method in ["bicubic", "nearest", "bilinear"]:
        decoded = kv.decode_filters(odd_net, "c3", unpool=method, dtype="float64")
        for k in range(5):
            np.testing.assert_allclose(decoded[k], literal_decode(layers, k, method), rtol=1e-10, atol=1e-12)


def test_decoded_sizes_match_receptive_fields(net):
    assert [kv.decode_filters(net, n).shape for n in ["conv1", "conv2", "conv3", "conv4"]] == [
        (20, 5, 5, 1),
        (50, 14, 14, 1),
        (500, 28, 28, 1),
        (10, 28, 28, 1),
    ]


# ----------------------------------------------------------------------------- the kernel is not flipped


def test_first_layer_decodes_to_its_own_unflipped_kernel(net):
    kernel = net.get_layer("conv1").kernel.numpy()
    np.testing.assert_array_equal(kv.decode_filters(net, "conv1"), np.transpose(kernel, (3, 0, 1, 2)))


def test_substitution_is_the_adjoint_and_catches_a_silent_flip():
    """<corr(X, W), D> == <X, subst(D, W)>; the rot180 paste breaks it (a silently flipped kernel)."""
    keras.utils.set_random_seed(0)
    conv = keras.layers.Conv2D(3, (3, 4), use_bias=False, name="c")
    model = keras.Sequential([keras.Input((7, 7, 2)), conv, keras.layers.Conv2D(1, (5, 4), use_bias=False, name="top")])
    rng = np.random.default_rng(0)
    d = rng.normal(size=(5, 4, 3))
    model.get_layer("top").kernel.assign(d[:, :, :, None].astype("float32"))  # the top filter IS D
    x = rng.normal(size=(7, 7, 2))  # conv output 5x4 = the shape of D
    forward = tf.nn.conv2d(x[None], tf.cast(conv.kernel, tf.float64), 1, "VALID").numpy()[0]
    lhs = np.sum(forward * d)
    subst = kv.decode_filters(model, "top", dtype="float64")[0]
    assert np.isclose(lhs, np.sum(x * subst), rtol=1e-5)
    flipped = kv.decode_filters_transposed(model, "top", "rot180", dtype="float64")[0]
    assert not np.isclose(lhs, np.sum(x * flipped), rtol=1e-2)


# ----------------------------------------------------------------------------- responses


def _linear_surrogate(net, x, name):
    """LeNet without biases and ReLU, max-pools replaced by 2x2 SUM pools: the adjoint of nearest unpooling."""
    h = tf.constant(x, tf.float64)
    for layer in ["conv1", "pool1", "conv2", "pool2", "conv3", "relu3", "conv4"]:
        if layer.startswith("conv"):
            h = tf.nn.conv2d(h, tf.cast(net.get_layer(layer).kernel, tf.float64), 1, "VALID")
        elif layer.startswith("pool"):
            h = 4 * tf.nn.avg_pool2d(h, 2, 2, "VALID")
        if layer == name:
            return h.numpy()


def test_nearest_decoded_response_is_the_linear_surrogate(net):
    x = np.random.default_rng(1).normal(0, 50, (3, 28, 28, 1)).astype("float32")
    for name in ["conv1", "conv2", "conv3", "conv4"]:
        response = kv.decoded_response(net, name, x, unpool="nearest")
        expected = _linear_surrogate(net, x, name)
        assert response.shape == expected.shape == (3,) + tuple(net.get_layer(name).output.shape[1:])
        np.testing.assert_allclose(response, expected, rtol=2e-4, atol=2e-4 * np.abs(expected).max())


def test_decoded_response_matches_cnn_with_same_padding_and_strides():
    """A linear net (no pools) with 'same' padding and strides: exact away from borders."""
    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [
            keras.Input((20, 20, 3)),
            keras.layers.Conv2D(4, 3, padding="same", use_bias=False),
            keras.layers.Conv2D(5, 3, strides=2, padding="same", use_bias=False, name="c2"),
            keras.layers.Conv2D(6, 3, padding="same", use_bias=False, name="c3"),
        ]
    )
    x = np.random.default_rng(0).normal(size=(2, 20, 20, 3)).astype("float32")
    response = kv.decoded_response(model, "c3", x)
    cnn = model.predict(x, verbose=0)
    assert response.shape == cnn.shape == (2, 10, 10, 6)
    np.testing.assert_allclose(response[:, 1:-2, 1:-2], cnn[:, 1:-2, 1:-2], rtol=1e-4, atol=1e-4)


def test_decoded_response_one_image_equals_batch(net):
    x = np.random.default_rng(2).normal(0, 50, (4, 28, 28, 1)).astype("float32")
    batch = kv.decoded_response(net, "conv2", x, batch_size=3)
    np.testing.assert_allclose(kv.decoded_response(net, "conv2", x[1]), batch[1], rtol=1e-5, atol=1e-3)
    subset = kv.decoded_response(net, "conv2", x, filters=[4, 7])
    np.testing.assert_allclose(subset, batch[..., [4, 7]], rtol=1e-5, atol=1e-3)


# ----------------------------------------------------------------------------- MATLAB imresize


def test_imresize_matrix_matches_matlab_and_tf():
    bicubic = kv.imresize_matrix(5, 2, "bicubic")
    np.testing.assert_allclose(bicubic[0, :3], [1.09375, -0.09375, 0])
    np.testing.assert_allclose(bicubic[1, :4], [0.796875, 0.2265625, -0.0234375, 0])
    np.testing.assert_allclose(bicubic, bicubic[::-1, ::-1])
    for method in ["bicubic", "nearest", "bilinear"]:
        np.testing.assert_allclose(kv.imresize_matrix(7, 3, method).sum(1), 1)
    np.testing.assert_array_equal(kv.imresize_matrix(5, 2, "nearest"), np.kron(np.eye(5), np.ones((2, 1))))
    v = np.random.default_rng(0).normal(size=(1, 6, 6, 1))
    for method, rows in [("bilinear", slice(None)), ("bicubic", slice(3, -3))]:
        a = kv.imresize_matrix(6, 2, method)
        tf_resized = tf.image.resize(v, (12, 12), method).numpy()[0, :, :, 0]
        np.testing.assert_allclose((a @ v[0, :, :, 0] @ a.T)[rows, rows], tf_resized[rows, rows], atol=1e-6)


# ----------------------------------------------------------------------------- models, errors, no mutation


def test_nested_model_decodes_like_its_inner_model(nested_fn, nested_seq, cnn):
    expected = kv.decode_filters(cnn, "conv2")
    np.testing.assert_allclose(kv.decode_filters(nested_fn, "conv2"), expected)
    np.testing.assert_allclose(kv.decode_filters(nested_seq, "base/conv2"), expected)


def test_model_unchanged(net, odd_net):
    x = np.random.default_rng(0).normal(size=(2, 28, 28, 1)).astype("float32")
    with unchanged(net, x):
        kv.decode_filters(net, "conv3", filters=[1, 2])
        kv.decoded_response(net, "conv4", x, unpool="bilinear")
        kv.decode_filters_transposed(net, "conv2", "matrix_transpose")
        kv.deconvnet_projection(net, "conv3", x, 4)
    z = np.random.default_rng(0).normal(size=(2, 23, 23, 2)).astype("float32")
    with unchanged(odd_net, z):
        kv.decode_filters(odd_net, "c3")


def test_unsupported_layers_and_bad_arguments(net):
    x = inputs = keras.Input((12, 12, 1))
    a = keras.layers.Conv2D(4, 3, padding="same", name="a")(x)
    b = keras.layers.Add(name="residual_add")([a, keras.layers.Conv2D(4, 3, padding="same", name="b")(a)])
    c = keras.layers.Conv2D(2, 3, name="c")(b)
    o = keras.layers.MaxPooling2D(3, strides=2, name="overlap")(a)
    d = keras.layers.Conv2D(2, 3, name="d")(o)
    model = keras.Model(inputs, [c, d])
    with pytest.raises(UnsupportedLayerError, match="residual_add"):
        kv.decode_filters(model, "c")
    with pytest.raises(UnsupportedLayerError, match="overlap"):
        kv.decode_filters(model, "d")
    with pytest.raises(ValueError, match="not a 2-D convolution"):
        kv.decode_filters(net, "pool1")
    with pytest.raises(kv.LayerNotFoundError, match="conv3"):
        kv.decode_filters(net, "conv33")
    with pytest.raises(ValueError, match="bicubic"):
        kv.decode_filters(net, "conv2", unpool="lanczos")
    with pytest.raises(ValueError, match="out of range"):
        kv.decode_filters(net, "conv2", filters=[50])
    with pytest.raises(ValueError, match="channel"):
        kv.decoded_response(net, "conv2", np.zeros((2, 28, 28, 3)))


def test_plan_is_cached_and_sees_current_weights():
    model = kv.lenet(seed=5)
    first = kv.decode_filters(model, "conv2", filters=[0])
    assert decoding_plan(model, "conv2") is decoding_plan(model, "conv2")
    model.get_layer("conv1").kernel.assign(2 * model.get_layer("conv1").kernel)
    np.testing.assert_allclose(kv.decode_filters(model, "conv2", filters=[0]), 2 * first, rtol=1e-5)


# ----------------------------------------------------------------------------- baselines


def test_transposed_readings_differ_from_substitution(net):
    subst = kv.decode_filters(net, "conv3", filters=[0, 1], dtype="float64")
    for reading in ["rot180", "matrix_transpose"]:
        other = kv.decode_filters_transposed(net, "conv3", reading, filters=[0, 1], dtype="float64")
        assert other.shape == subst.shape
        assert np.abs(other - subst).max() > 0.1 * np.abs(subst).max()


def test_deconvnet_projection_uses_switches_and_rectification(net):
    """Below conv2 there is no ReLU: the projection is the kernel pasted through the argmax switches.

    With one pool below, it must be zero except at pool1's argmax positions feeding the unit, and equal
    to the plain gradient; on conv4, the backward signal is rectified at relu3.
    """
    x = np.random.default_rng(3).normal(0, 50, (2, 28, 28, 1)).astype("float32")
    proj, where = kv.deconvnet_projection(net, "conv2", x, 7)
    act = kv.activations(net, x, layers=["conv2"])["conv2"][..., 7]
    for n in range(2):
        assert act[n][tuple(where[n])] == act[n].max()
    plain = kv.core.gradients.score_gradients(
        net, x, target=list(where[:, 0] * 8 * 50 + where[:, 1] * 50 + 7), score_layer="conv2"
    )
    np.testing.assert_allclose(proj, plain.input, rtol=1e-5, atol=1e-6)
    assert (np.count_nonzero(proj[0]) <= 14 * 14 // 4 * 4) and np.count_nonzero(proj[0]) > 0
    deconv4, _ = kv.deconvnet_projection(net, "conv4", x, 3)
    plain4 = kv.core.gradients.score_gradients(net, x, target=3, score_layer="conv4")
    assert np.abs(deconv4 - plain4.input).max() > 1e-3 * np.abs(plain4.input).max()


# ----------------------------------------------------------------------------- widget and figures


def test_decoding_explorer_and_figures(net):
    import matplotlib.pyplot as plt

    x = np.random.default_rng(0).normal(0, 50, (12, 28, 28, 1)).astype("float32")
    with unchanged(net, x[:2]):
        ex = kv.widgets.DecodingExplorer(net, x, display=x[..., 0])
        assert ex.layer.options == ("conv1", "conv2", "conv3", "conv4") and ex.filter.max == 9
        ex.layer.value = "conv2"
        assert ex.filter.max == 49
        ex.filter.value = 7
        ex.unpool.value = "nearest"
        decoded_fig, top_fig = ex.figures()
    assert len(top_fig.axes) == 10 and len(decoded_fig.axes) == 2
    df = kv.decode_filters(net, "conv4")
    matrix, argmax, hit = kv.class_max_matrix(np.random.default_rng(0).normal(size=(30, 10)), np.arange(30) % 10)
    assert matrix.shape == argmax.shape == (10, 10) and 0 <= hit <= 1
    for fig in (
        kv.plot_decoded_filters(df, labels=range(10), threshold=0.3),
        kv.plot_class_matrix(matrix, x[argmax % 12][..., 0], df, hit_rate=hit),
    ):
        assert fig.axes
    plt.close("all")


def test_decoding_error_is_zero_for_identical_and_positive_otherwise():
    a = np.random.default_rng(0).normal(size=(3, 4, 4, 5))
    np.testing.assert_allclose(kv.decoding_error(a, 3 * a + 1), 0, atol=1e-20)  # invariant to scale and offset
    assert (kv.decoding_error(a, a[::-1]) > 0).sum() == 2


def test_character_net_decodes_to_characters():
    chars = kv.character_net()
    df = kv.decode_filters(chars, "conv4", unpool="nearest")
    assert df.shape == (8, 14, 14, 1)
    fed = chars.predict(df / np.abs(df).max((1, 2, 3), keepdims=True) * 255, verbose=0).reshape(8, -1)
    assert (fed.argmax(1) == np.arange(8)).sum() >= 6  # measured 6/8: D and E excite C (their sub-shape) more


def test_decoding_explorer_draws_caffe_models_filters_as_rgb(monkeypatch):
    # VGG16 takes BGR input, so its decoded filters are BGR; the widget must flip them for display.
    import kerasviz as kv
    import kerasviz.widgets.decoding as wd

    vgg = kv.load_vgg16(weights=None, include_top=False, input_shape=(32, 32, 3))
    drawn, original = [], wd.plot_decoded_filter

    def spy(decoded, **kwargs):
        drawn.append(np.array(decoded))
        return original(decoded, **kwargs)

    monkeypatch.setattr(wd, "plot_decoded_filter", spy)
    x = np.random.default_rng(0).uniform(-100, 100, (4, 32, 32, 3)).astype("float32")
    wd.DecodingExplorer(vgg, x, layers=["block1_conv2"])
    expected = kv.decode_filters(vgg, "block1_conv2", "bicubic", filters=[0])[0]
    np.testing.assert_allclose(drawn[-1], expected[..., ::-1])
