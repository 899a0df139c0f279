"""Dataset views on trained features (real MNIST) and under a distribution strategy.

The trustworthiness of t-SNE on trained features beats a random layout by
>= 0.2 (measured 0.996 vs 0.515); the grid keeps same-label neighbours
together far above chance. A MirroredStrategy scan over two logical CPU
devices equals the single-device scan.
"""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import kerasviz as kv
from kerasviz.testing import unchanged


@pytest.fixture(scope="module")
def trained(mnist):
    """A tiny CNN trained for one epoch on 4000 digits (a few seconds), and 300 test digits."""
    (x_train, y_train), (x_test, y_test) = mnist
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(name="pool2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(32, activation="relu", name="code"),
            keras.layers.Dense(10, name="logits"),
        ],
        name="tiny_mnist",
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    pick = np.random.default_rng(0).permutation(len(x_train))[:4000]
    model.fit(x_train[pick, ..., None] / 255.0, y_train[pick], epochs=1, batch_size=64, verbose=0)
    test = np.linspace(0, len(x_test) - 1, 300).astype(int)  # the test set is sorted by class
    return model, x_test[test, ..., None] / 255.0, y_test[test], x_test[test]


def test_tsne_of_trained_codes_is_trustworthy(trained):
    model, x, y, raw = trained
    with unchanged(model, x[:2]):
        grid = kv.embedding_grid(model, "code", x, display=raw, seed=0, progress=False)
    assert grid.trustworthiness >= grid.random_trustworthiness + 0.2, (
        grid.trustworthiness,
        grid.random_trustworthiness,
    )
    assert len({tuple(c) for c in grid.cells}) == len(x)  # a bijection onto grid cells
    assert grid.shape == (17, 18) and grid.mosaic.shape == (17 * 28, 18 * 28, 1)
    # Quality: 4-neighbours on the grid share a label far above chance (~0.1).
    label = np.full(grid.shape, -1)
    label[grid.cells[:, 0], grid.cells[:, 1]] = y
    pairs = [(label[:, :-1], label[:, 1:]), (label[:-1], label[1:])]
    same = sum(((a == b) & (a >= 0) & (b >= 0)).sum() for a, b in pairs)
    total = sum(((a >= 0) & (b >= 0)).sum() for a, b in pairs)
    assert same / total > 0.4
    again = kv.embedding_grid(model, "code", x, display=raw, seed=0, progress=False)
    np.testing.assert_array_equal(again.cells, grid.cells)  # same seed, same layout


def test_trained_filters_class_selectivity(trained):
    """Dense codes of a trained classifier are more class-selective than an untrained copy's."""
    model, x, y, _ = trained
    fresh = keras.models.clone_model(model)
    selectivity = [
        np.nanmean(kv.neuron_feature(m, "code", x, k=20, labels=y, progress=False).class_selectivity)
        for m in (model, fresh)
    ]
    assert selectivity[0] > selectivity[1] + 0.05, selectivity


DISTRIBUTED = textwrap.dedent(
    """
    import json, numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import kerasviz as kv
    from kerasviz.testing import small_cnn
    model = small_cnn()
    x = np.random.default_rng(0).normal(size=(131, 16, 16, 3)).astype("float32")
    y = np.arange(131) % 4
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    one = kv.top_activating(model, "conv2", x, k=6, labels=y, batch_size=32, progress=False)
    two = kv.top_activating(model, "conv2", x, k=6, labels=y, batch_size=32, progress=False, strategy=strategy)
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "indices": bool((one.indices == two.indices).all()),
        "locations": bool((one.locations == two.locations).all()),
        "labels": bool((one.labels == two.labels).all()),
        "values": float(np.abs(one.values - two.values).max()),
    }))
    """
)


def test_distributed_scan_equals_single_device():
    # Logical devices must be configured before TensorFlow initialises, so run in a fresh process.
    done = subprocess.run([sys.executable, "-c", DISTRIBUTED], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["indices"] and result["locations"] and result["labels"]
    assert result["values"] <= 1e-5
