"""The direction objective holds its table as data: one compiled step serves every table of the same width."""

import numpy as np

import kerasviz as kv
from kerasviz.core.graph import cache
from kerasviz.featurevis import objectives as O
from kerasviz.testing import small_cnn

FAST = dict(size=16, param="pixels", transforms=None, progress=False, precision="float32")


def _traces(model) -> int:
    """Traces of every compiled rendering step cached for `model`."""
    fixed, recent = cache._store.get(model, ({}, {}))
    renderers = [v for v in (*fixed.values(), *recent.values()) if hasattr(v, "_compiled")]
    return sum(f.experimental_get_tracing_count() for r in renderers for f in r._compiled.values())


def test_a_second_atlas_does_not_retrace_and_the_cache_does_not_grow():
    model = small_cnn(name="atlas_traces")
    rng = np.random.default_rng(0)
    first_data, second_data = rng.uniform(0, 1, (40, 16, 16, 3)), rng.uniform(0, 1, (40, 16, 16, 3)) ** 3
    options = dict(grid=2, min_count=1, steps=4, samples_per_image=2, progress=False)
    kv.activation_atlas(model, "conv2", first_data.astype("float32"), **options)
    traces, entries = _traces(model), cache.entries(model)
    assert traces > 0
    second = kv.activation_atlas(model, "conv2", second_data.astype("float32"), **options)
    assert _traces(model) == traces and cache.entries(model) == entries
    # the reused step read the second table: the icons equal a rendering on a cold cache
    cold = small_cnn(name="atlas_cold")
    fresh = kv.render_objective(
        cold,
        O.direction("conv2", second.directions),
        np.arange(len(second.directions)),
        steps=4,
        seed=0,
        progress=False,
    )
    np.testing.assert_allclose(second.icons, fresh.images, atol=1e-5)


def test_tables_follow_the_objective_they_belong_to():
    model = small_cnn(name="direction_tables")
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 16)).astype("float32"), rng.normal(size=(5, 16)).astype("float32")
    first = O.direction("conv2", a)
    other = O.direction("conv2", b)  # created before `first` is rendered: each keeps its own rows
    units = np.arange(3)
    one = kv.render_objective(model, first, units, steps=3, **FAST)
    two = kv.render_objective(model, other, units, steps=3, **FAST)
    again = kv.render_objective(model, first, units, steps=3, **FAST)
    np.testing.assert_array_equal(again.images, one.images)
    assert not np.allclose(two.images, one.images)
    both = O.direction("conv2", a) + 0.5 * O.direction("conv2", b)  # two tables in one objective, bound in order
    swapped = O.direction("conv2", b[:3]) + 0.5 * O.direction("conv2", a)
    mixed = kv.render_objective(model, both, units, steps=3, **FAST)
    reused = kv.render_objective(model, swapped, units, steps=3, **FAST)
    cold = small_cnn(name="direction_cold")
    np.testing.assert_allclose(
        reused.images, kv.render_objective(cold, swapped, units, steps=3, **FAST).images, atol=1e-6
    )
    assert not np.allclose(mixed.images, reused.images)
