"""Attribution on every kind of model: channels first, several outputs, repeated layer names,
mixed precision, subclassed. Each kind is compared with a plain functional twin holding the
same weights: the maps must be the same (up to the stated tolerance), not only "run"."""

import random
import tracemalloc
import warnings

import keras
import numpy as np
import pytest
from _checks import assert_clear_error, global_state_unchanged

import kerasviz as kv
from kerasviz.testing import unchanged

X = np.random.default_rng(1).uniform(0, 1, (2, 8, 8, 3)).astype("float32")


def cnn(data_format="channels_last", name="twin", head="softmax"):
    shape = (3, 8, 8) if data_format == "channels_first" else (8, 8, 3)
    keras.utils.set_random_seed(7)
    x = inputs = keras.Input(shape)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", data_format=data_format, name="conv1")(x)
    x = keras.layers.MaxPooling2D(2, data_format=data_format, name="pool")(x)
    x = keras.layers.Conv2D(5, 3, padding="same", activation="relu", data_format=data_format, name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(data_format=data_format, name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation=head, name="head")(x), name=name)


@pytest.fixture(scope="module")
def twins():
    last, first = cnn(), cnn("channels_first", "first")
    first.set_weights(last.get_weights())
    return last, first


# Per method: (call, whether its result has the images' shape with channels)
CALLS = {
    "gradient": (lambda m, x, **k: kv.gradient(m, x, 1, **k), True),
    "saliency": (lambda m, x, **k: kv.saliency(m, x, 1, **k), False),
    "smoothgrad": (lambda m, x, **k: kv.smoothgrad(m, x, 1, samples=3, progress=False, **k), True),
    "guided_backprop": (lambda m, x, **k: kv.guided_backprop(m, x, 1, **k), True),
    "deconvnet": (lambda m, x, **k: kv.deconvnet(m, x, 1, **k), True),
    "integrated_gradients": (
        lambda m, x, **k: kv.integrated_gradients(m, x, 1, steps=4, progress=False, **k).attributions,
        True,
    ),
    "grad_cam": (lambda m, x, **k: kv.grad_cam(m, x, 1, **k), False),
    "grad_cam_plus_plus": (lambda m, x, **k: kv.grad_cam_plus_plus(m, x, 1, **k), False),
    "guided_grad_cam": (lambda m, x, **k: kv.guided_grad_cam(m, x, 1, **k), True),
    "occlusion": (lambda m, x, **k: kv.occlusion(m, x, 1, patch=2, progress=False, **k), False),
    "deletion_auc": (lambda m, x, **k: kv.deletion_auc(m, x, _order(x), 1, steps=4, **k), False),
    "insertion_auc": (lambda m, x, **k: kv.insertion_auc(m, x, _order(x), 1, steps=4, **k), False),
}


def _order(x):
    """A fixed pixel order for the perturbation metrics: (N, 8, 8), or (8, 8) for one image."""
    n = len(x) if np.ndim(x) == 4 else 1
    maps = np.random.default_rng(4).permutation(n * 64).reshape(n, 8, 8).astype("float32")
    return maps if np.ndim(x) == 4 else maps[0]


GRADIENT_ONLY = ["gradient", "smoothgrad", "integrated_gradients", "occlusion", "deletion_auc"]


# One method per code path: input-shaped maps, path rows and baselines, tapped feature maps, forward rows.
# (Channels-first steps compile with XLA on CPU, a few seconds each: the other methods share these paths.)
CHANNELS_FIRST = ["gradient", "integrated_gradients", "grad_cam", "occlusion"]
# The same for the other model kinds, plus the ReLU-rule and CAM-times-gradient paths.
PATHS = [
    "gradient",
    "guided_backprop",
    "integrated_gradients",
    "grad_cam",
    "guided_grad_cam",
    "occlusion",
    "deletion_auc",
]


@pytest.mark.parametrize("name", CHANNELS_FIRST)
def test_channels_first_model_equals_its_channels_last_twin(twins, name):
    last, first = twins
    call, has_channels = CALLS[name]
    xf = X.transpose(0, 3, 1, 2)
    expected = call(last, X)
    with unchanged(first, xf):
        got = call(first, xf)
    if has_channels:  # input-shaped maps come back in the model's layout
        assert got.shape == xf.shape
        got = got.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-4)


def test_channels_first_activations_metrics_and_checks(twins):
    last, first = twins
    xf = X.transpose(0, 3, 1, 2)
    for spec in ("conv2", 2, np.int64(2)):  # a NumPy integer works like an int
        acts = kv.activations(first, xf, spec)
        np.testing.assert_allclose(next(iter(acts.values())), kv.activations(last, X, "conv2")["conv2"], atol=1e-6)
    assert kv.activations(first, xf[0], "conv1")["conv1"].shape == (8, 8, 4)  # channels last, batch axis dropped
    assert kv.core.inputs.image_layout(first) == "channels_first" and kv.core.inputs.channels_axis(first) == 1
    assert kv.default_cam_layer(first) == "conv2"
    maps = kv.gradient(last, X, 1)  # maps with channels, in each model's layout
    np.testing.assert_allclose(
        kv.deletion_auc(first, xf, maps.transpose(0, 3, 1, 2), 1, steps=4),
        kv.deletion_auc(last, X, maps, 1, steps=4),
        atol=1e-6,
    )
    error = assert_clear_error(
        lambda: kv.saliency(first, X), "images"
    )  # channels-last images for a channels-first model
    assert "np.transpose(images, (0, 3, 1, 2))" in str(error)
    fx = kv.feature_extractor(first, ["conv1"])  # the public extractor keeps the model's own layout
    assert tuple(fx.output["conv1"].shape) == (None, 4, 8, 8)
    mixed = keras.Sequential(
        [
            keras.Input((3, 8, 8)),
            keras.layers.Conv2D(2, 3, data_format="channels_first"),
            keras.layers.MaxPooling2D(2, data_format="channels_last"),
        ]
    )
    assert_clear_error(lambda: kv.saliency(mixed, xf), None, match="mixes channels_first")


# ---------------------------------------------------------------- several outputs


@pytest.fixture(scope="module")
def two_heads(twins):
    """Dict and list outputs {"cls": the twin's softmax head, "box": 4 linear units}, sharing the twin's layers."""
    single = twins[0]
    box = keras.layers.Dense(4, name="box_head")(single.get_layer("gap").output)
    model = keras.Model(single.inputs, {"cls": single.output, "box": box}, name="two_heads")
    listed = keras.Model(single.inputs, [single.output, box], name="listed")
    return model, listed, single


@pytest.mark.parametrize("name", PATHS)
def test_output_selects_one_head_by_key(two_heads, name):
    model, listed, single = two_heads
    call, _ = CALLS[name]
    with unchanged(model, X):
        np.testing.assert_allclose(call(model, X, output="cls"), call(single, X), atol=1e-5, rtol=1e-4)
    error = assert_clear_error(lambda: call(model, X), "output")
    assert "'box'" in str(error) and "'cls'" in str(error)


def test_output_by_index_and_layer_name_reaches_either_head(two_heads):
    model, listed, single = two_heads
    np.testing.assert_allclose(kv.gradient(listed, X, 1, output=0), kv.gradient(single, X, 1), atol=1e-7)
    np.testing.assert_allclose(kv.grad_cam(listed, X, 1, output="head"), kv.grad_cam(single, X, 1), atol=1e-6)
    box = kv.gradient(model, X, 2, output="box")
    np.testing.assert_allclose(box, kv.gradient(listed, X, 2, output=-1), atol=1e-7)
    assert np.abs(box - kv.gradient(single, X, 2)).max() > 1e-4
    r = kv.randomization_check(model, X, "gradient", 0, layers=["box_head"], output="box", progress=False)
    assert r.spearman.shape == (1, 2)


# ---------------------------------------------------------------- repeated layer names


@pytest.fixture(scope="module")
def repeated_names():
    """A nested base with conv1/conv2, and an outer conv1 after it (Keras accepts this; predict works)."""
    base = cnn(name="base")
    base = keras.Model(base.inputs, base.get_layer("conv2").output, name="base")
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(3, 1, activation="relu", name="conv1")(base(inputs))
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x), name="outer")


def test_repeated_layer_names_work_everywhere(repeated_names):
    model = repeated_names
    assert model.predict(X, verbose=0).shape == (2, 3)
    with unchanged(model, X):
        for name in ("gradient", "guided_backprop", "integrated_gradients", "occlusion"):
            assert np.isfinite(CALLS[name][0](model, X)).all(), name
        cams = {layer: kv.grad_cam(model, X, 1, layer=layer, upsample=False) for layer in ("conv1", "base/conv2")}
        acts = kv.activations(
            model, X, ["conv1", "base/conv1", model.get_layer("conv1"), model.get_layer("base").get_layer("conv1")]
        )
        r = kv.randomization_check(model, X, "gradient", 1, layers=["conv1", "base/conv1"], progress=False)
    assert cams["conv1"].shape == (2, 4, 4) and cams["base/conv2"].shape == (2, 4, 4)
    assert (
        set(acts) == {"conv1", "base/conv1"}
        and acts["conv1"].shape == (2, 4, 4, 3)
        and acts["base/conv1"].shape == (2, 8, 8, 4)
    )
    np.testing.assert_allclose(
        acts["conv1"], keras.Model(model.inputs, model.get_layer("conv1").output).predict(X, verbose=0), atol=1e-6
    )
    assert r.stages == ["conv1", "conv1"]


def test_ambiguous_nested_name_lists_the_paths():
    def block(name):
        return keras.Sequential(
            [keras.Input((8, 8, 3)), keras.layers.Conv2D(3, 3, padding="same", name="conv")], name=name
        )

    model = keras.Sequential([keras.Input((8, 8, 3)), block("a"), block("b")], name="two")
    error = assert_clear_error(lambda: kv.grad_cam(model, X, layer="conv"), "layer")
    assert "['a/conv', 'b/conv']" in str(error)


# ---------------------------------------------------------------- mixed precision


@pytest.fixture(scope="module")
def mixed(twins):
    """The twin built under the mixed_float16 policy (the global policy is restored at once), same weights."""
    before = keras.config.dtype_policy().name
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = cnn(name="mixed")
    finally:
        keras.mixed_precision.set_global_policy(before)
    model.set_weights(twins[0].get_weights())
    assert model.get_layer("conv1").compute_dtype == "float16" and keras.config.dtype_policy().name == before
    return model


@pytest.mark.parametrize("name", ["gradient", "guided_backprop", "integrated_gradients", "grad_cam", "occlusion"])
def test_mixed_precision_model_is_explained_in_float32(twins, mixed, name):
    """Scores and gradients are computed in float32 on the float32 variables: the maps equal the
    float32 twin's to float32 round-off (1e-5), where float16 would differ by ~1e-3 or underflow."""
    call, _ = CALLS[name]
    with global_state_unchanged(), unchanged(mixed, X):
        got = call(mixed, X)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, call(twins[0], X), atol=1e-5, rtol=1e-4)


def test_mixed_precision_activations_and_tiny_gradients(twins, mixed):
    plain = twins[0]
    np.testing.assert_allclose(
        kv.activations(mixed, X, "conv2")["conv2"], kv.activations(plain, X, "conv2")["conv2"], atol=1e-6
    )
    tiny = lambda out: out[:, 0] * 1e-6  # float16 would flush these gradients (~1e-9) to zero
    g = kv.gradient(mixed, X, tiny)
    assert np.abs(g).max() > 0
    np.testing.assert_allclose(g, kv.gradient(plain, X, tiny), rtol=1e-4, atol=1e-12)


# ---------------------------------------------------------------- subclassed


class SmallNet(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv1 = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")
        self.pool = keras.layers.MaxPooling2D(2, name="pool")
        self.conv2 = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="conv2")
        self.gap = keras.layers.GlobalAveragePooling2D(name="gap")
        self.head = keras.layers.Dense(3, name="head")

    def call(self, x):
        return self.head(self.gap(self.conv2(self.pool(self.conv1(x)))))


@pytest.fixture(scope="module")
def subclassed_twins(twins):
    """A subclassed CNN with the twin's weights; it returns logits, which the twin's maps explain too."""
    net = SmallNet(name="small_net")
    net(X)
    net.set_weights(twins[0].get_weights())
    return net, twins[0]


@pytest.mark.parametrize("name", GRADIENT_ONLY)
def test_subclassed_model_equals_its_functional_twin(subclassed_twins, name):
    net, twin = subclassed_twins
    call, _ = CALLS[name]
    with unchanged(net, X):
        got = call(net, X)
    np.testing.assert_allclose(got, call(twin, X), atol=1e-6, rtol=1e-5)
    assert np.shape(call(net, X[0])) == np.shape(call(twin, X[0]))  # one image in, one result out


def test_subclassed_randomization_and_methods_that_need_layers(subclassed_twins):
    net, twin = subclassed_twins
    with global_state_unchanged():
        r = kv.randomization_check(net, X, "gradient", 1, layers=["head"], progress=False)
    np.testing.assert_allclose(
        r.maps, kv.randomization_check(twin, X, "gradient", 1, layers=["head"], progress=False).maps, atol=1e-6
    )
    for call in (
        kv.grad_cam,
        kv.guided_backprop,
        kv.deconvnet,
        kv.guided_grad_cam,
        lambda m, x: kv.activations(m, x, "conv1"),
    ):
        assert_clear_error(lambda: call(net, X), None, match="subclassed")
    fresh = SmallNet(name="never_called")
    assert_clear_error(lambda: kv.gradient(fresh, X), None, match="never been called")
    assert not fresh.built


# ---------------------------------------------------------------- cost, memory and warnings


@pytest.mark.parametrize(
    "call",
    [
        lambda m: kv.smoothgrad(m, X, samples=10**8, progress=False),
        lambda m: kv.integrated_gradients(m, X, steps=10**8, method="midpoint", progress=False),
        lambda m: kv.occlusion(m, X, patch=1, stride=1, progress=False),
    ],
)
def test_huge_sample_and_step_counts_stream_rows_in_bounded_memory(twins, monkeypatch, call):
    """Reaching the first compiled chunk allocates no samples x image array (10**8 rows would be GiB)."""
    import kerasviz.attribution._common as common

    class Reached(Exception):
        pass

    def first_chunk(*args, **kwargs):
        raise Reached

    monkeypatch.setattr(
        common,
        "accumulate_gradients",
        lambda step, make_rows, n_rows, *a, **k: (make_rows(np.arange(4)), first_chunk()),
    )
    monkeypatch.setattr(
        common, "row_scores", lambda model, make_rows, n_rows, *a, **k: (make_rows(np.arange(4)), first_chunk())
    )
    for module in ("smoothgrad", "integrated_gradients", "occlusion"):
        module = __import__(f"kerasviz.attribution.{module}", fromlist=["x"])
        for attr in ("accumulate_gradients", "row_scores"):
            if hasattr(module, attr):
                monkeypatch.setattr(module, attr, getattr(common, attr))
    tracemalloc.start()
    try:
        with pytest.raises(Reached):
            call(twins[0])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MiB allocated before the first chunk"


def test_integrated_gradients_warning_is_relative_to_the_score_and_says_what_to_do(twins):
    model = twins[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ig = kv.integrated_gradients(model, X, 1, baseline=X, steps=2, progress=False)  # delta = 0 exactly
        assert np.all(ig.convergence_error == 0) and np.all(ig.delta == 0)
        near = X + 1e-7
        kv.integrated_gradients(model, X, 1, baseline=near, steps=2, progress=False)  # a vanishing delta
    steep = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1),
        ],
        name="steep",
    )
    steep.layers[1].kernel.assign(np.random.default_rng(0).normal(0, 4, (192, 8)))
    with pytest.warns(UserWarning, match=r"raise `steps` \(e.g. steps=4"):
        kv.integrated_gradients(steep, X, 0, steps=1, method="gausslegendre", baseline=-3.0, progress=False)
    with pytest.warns(UserWarning, match="use method='gausslegendre' or 'midpoint'"):
        kv.integrated_gradients(steep, X, 0, steps=1, method="riemann_left", baseline=-3.0, progress=False)


def test_randomization_check_leaves_global_random_state_and_handles_lambda_layers(twins):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Lambda(lambda t: t * 2.0 - 1.0, name="scale")(inputs)
    x = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(keras.layers.GlobalAveragePooling2D()(x)))
    random.seed(5)
    np.random.seed(5)
    with global_state_unchanged(), unchanged(model, X):
        r = kv.randomization_check(model, X, "gradient", progress=False)
    assert r.stages == ["head", "conv"] and r.spearman.shape == (2, 2)


def test_callable_target_errors_are_the_users_own_without_a_trace_dump(twins):
    def broken(outputs):
        return outputs[:, 0].numpy()

    for fn in (kv.gradient, kv.grad_cam, kv.occlusion, kv.integrated_gradients):
        error = assert_clear_error(lambda: fn(twins[0], X, broken), "target")
        assert "AttributeError" in str(error) and "not .numpy()" in str(error) and "File " not in str(error)
    error = assert_clear_error(lambda: kv.gradient(twins[0], X, lambda out: out), "target")
    assert "one score per sample" in str(error)


def test_lambda_targets_do_not_keep_compiled_steps_alive(twins, monkeypatch):
    import gc
    import weakref

    from kerasviz.core.cache import ModelCache
    from kerasviz.core.graph import cache

    table, model = ModelCache(callable_entries=3), cnn(name="cached")
    built = [table.get(model, ("step", lambda out, k=k: out[:, k]), lambda: object()) for k in range(10)]
    assert table.entries(model) == 3 and len(built) == 10
    assert table.get(model, ("fixed", 1), lambda: "a") == table.get(model, ("fixed", 1), lambda: "b") == "a"
    monkeypatch.setattr(cache, "callable_entries", 2)
    refs = []
    for k in range(4):
        target = lambda out, k=k: out[:, k % 3]  # a new lambda each time, as a re-run notebook cell makes
        refs.append(weakref.ref(target))
        kv.gradient(model, X[:1], target)
        del target
    gc.collect()
    assert sum(r() is not None for r in refs) <= 2


def test_renamed_chunk_arguments_still_work_with_a_warning(twins):
    model = twins[0]
    with pytest.warns(DeprecationWarning, match="sample_batch_size"):
        old = kv.smoothgrad(model, X, 1, samples=3, batch_size=2, progress=False)
    np.testing.assert_array_equal(old, kv.smoothgrad(model, X, 1, samples=3, sample_batch_size=2, progress=False))
    with pytest.warns(DeprecationWarning, match="maps"):
        kv.deletion_auc(model, X, attributions=np.ones((2, 8, 8)), steps=2)


def test_quick_mode_caps_only_defaults(twins, monkeypatch):
    model = twins[0]
    monkeypatch.setenv("KERASVIZ_QUICK", "1")
    capped = kv.smoothgrad(model, X, 1, progress=False)
    explicit = kv.smoothgrad(model, X, 1, samples=20, progress=False)
    monkeypatch.delenv("KERASVIZ_QUICK")
    np.testing.assert_array_equal(capped, kv.smoothgrad(model, X, 1, samples=8, progress=False))
    np.testing.assert_array_equal(explicit, kv.smoothgrad(model, X, 1, samples=20, progress=False))


def test_registry_lists_every_method_once():
    from kerasviz.attribution.registry import get_method, method_names, methods

    assert method_names() == [
        "gradient",
        "saliency",
        "gradient_x_input",
        "smoothgrad",
        "vargrad",
        "integrated_gradients",
        "guided_backprop",
        "deconvnet",
        "grad_cam",
        "grad_cam_plus_plus",
        "guided_grad_cam",
        "hires_cam",
        "xgrad_cam",
        "layer_cam",
        "eigen_cam",
        "score_cam",
        "ablation_cam",
        "occlusion",
        "rise",
        "lime",
        "kernel_shap",
        "sobol_attribution",
        "lrp",
    ]
    labels = [m.label for m in methods().values()]
    assert len(set(labels)) == len(labels) and all(labels)
    for name, method in methods().items():
        assert getattr(kv, name) is method.function, name
        assert method.family in ("gradient", "cam", "perturbation", "lrp"), name
    assert get_method("grad_cam").needs_layer and not get_method("saliency").signed
    assert get_method("integrated_gradients").gradient_only and not get_method("guided_backprop").gradient_only
    assert get_method("rise").black_box and get_method("rise").seeded and not get_method("grad_cam").black_box
    assert get_method("Score-CAM") is get_method("score_cam")  # a label finds its entry too
    assert_clear_error(lambda: get_method("anchors"), "method")


def test_registry_counts_the_passes_of_the_expensive_methods():
    from kerasviz.attribution.registry import get_method

    model = cnn()  # conv2: 5 channels, the default CAM layer
    work = lambda name, **o: get_method(name).work(model, (8, 8), o)
    assert work("saliency").kind == "gradient" and work("saliency").passes == 1
    assert work("smoothgrad", samples=10).passes == 10 and work("integrated_gradients", steps=7).passes == 8
    assert work("score_cam").kind == "forward" and work("score_cam").passes == 5 + 1
    assert work("score_cam", max_channels=4).passes == 4 + 1
    assert 1 < work("ablation_cam").passes < 5 + 1  # 5 ablated copies of the layers after conv2 only
    assert work("occlusion", patch=4).passes == 3 * 3 + 1  # starts 0, 2, 4 per axis, and the clean pass
    assert work("rise", samples=300).passes == 301 and work("lime", samples=99).passes == 100
    assert work("kernel_shap", n_segments=4, samples=100).passes == 2**4 - 2 + 2  # every coalition fits
    assert work("kernel_shap", n_segments=50).passes == 1024 + 2  # the widget's coalition budget
    assert work("sobol_attribution", grid_size=4, designs=8).passes == 8 * (16 + 2)
    assert work("lrp").kind == "lrp" and work("lrp").unit == "gradient"


def test_every_map_function_follows_the_conventions():
    import inspect

    from kerasviz.attribution.registry import methods

    # progress=False defaults still to flip (files being changed on another branch)
    quiet = {"gradient_x_input", "hires_cam", "xgrad_cam", "layer_cam", "eigen_cam"}
    for name in [*methods(), "deletion_auc", "insertion_auc", "randomization_check", "activations"]:
        params = inspect.signature(getattr(kv, name)).parameters
        assert list(params)[:2] == ["model", "images"], name
        if "target" in params:
            assert params["output"].kind is inspect.Parameter.KEYWORD_ONLY and params["output"].default is None, name
        if "progress" in params and name not in quiet:
            assert params["progress"].default is True, name
        if "layer" in params:
            assert params["layer"].kind is inspect.Parameter.KEYWORD_ONLY, name
