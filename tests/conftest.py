"""Shared fixtures: tiny models, a probe batch, and the real MNIST digits."""
import os

import numpy as np
import pytest

from kerasviz.testing import nested_model, small_cnn


@pytest.fixture(scope="session")
def cnn():
    return small_cnn()


@pytest.fixture(scope="session")
def nested_seq():
    return nested_model(sequential=True)


@pytest.fixture(scope="session")
def nested_fn():
    return nested_model(sequential=False)


@pytest.fixture
def images():
    return np.random.default_rng(0).uniform(0, 1, (5, 16, 16, 3)).astype("float32")


@pytest.fixture(scope="session")
def mnist():
    """((x_train, y_train), (x_test, y_test)) from $KERASVIZ_MNIST (set by .ci/run)."""
    import kerasviz as kv

    if not os.environ.get("KERASVIZ_MNIST"):
        pytest.skip("set KERASVIZ_MNIST to an MNIST .npz (x, y or Keras' mnist.npz) to run this test")
    return kv.load_mnist()
