"""Model shapes of tools/audit_edges.py: one small model per shape, and the arrays a call on it needs."""

from __future__ import annotations

import keras
import numpy as np

import kerasviz as kv

H = W = 16
RNG = np.random.default_rng(0)


class Ctx:
    """One model shape and the arrays a good call on it needs."""

    def __init__(self, name, model, x, conv, dense, hw, multi_output=False, data_format="channels_last"):
        self.name, self.model, self.x, self.conv, self.dense = name, model, x, conv, dense
        self.hw, self.multi_output, self.data_format = hw, multi_output, data_format
        self.image = x[0] if isinstance(x, np.ndarray) else None
        self.maps = np.ones((2, *hw), np.float32)
        self._results = {}

    def result(self, key, make):
        """A real result of another public function, made once (plots draw these)."""
        if key not in self._results:
            self._results[key] = make()
        return self._results[key]


def _conv_net(name, shape=(H, W, 3), data_format="channels_last", kernel=3):
    keras.utils.set_random_seed(1)
    x = inputs = keras.Input(shape, name="pixels")
    x = keras.layers.Conv2D(4, kernel, padding="same", activation="relu", data_format=data_format, name="conv1")(x)
    x = keras.layers.Conv2D(6, kernel, padding="same", activation="relu", data_format=data_format, name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(data_format=data_format, name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x), name=name)


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__(name="subclassed")
        self.conv1 = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")
        self.gap = keras.layers.GlobalAveragePooling2D(name="gap")
        self.head = keras.layers.Dense(3, name="head")

    def call(self, x):
        return self.head(self.gap(self.conv1(x)))


def build_shapes(names=None) -> dict:
    """Model shape name -> a function building its Ctx (built lazily: each costs a graph)."""
    x = RNG.uniform(0, 1, (2, H, W, 3)).astype("float32")

    def functional():
        return Ctx("functional", _conv_net("functional"), x, "conv2", "head", (H, W))

    def sequential():
        keras.utils.set_random_seed(1)
        m = keras.Sequential(
            [
                keras.Input((H, W, 3)),
                keras.layers.Conv2D(4, 3, activation="relu", name="conv1"),
                keras.layers.MaxPooling2D(name="pool"),
                keras.layers.Conv2D(4, 3, activation="relu", name="conv2"),
                keras.layers.Flatten(name="flat"),
                keras.layers.Dense(3, name="head"),
            ],
            name="sequential",
        )
        return Ctx("sequential", m, x, "conv2", "head", (H, W))

    def nested():
        return Ctx("nested", kv.testing.nested_model((H, W, 3), 3, sequential=False), x, "conv2", "outer_head", (H, W))

    def multi_output():
        keras.utils.set_random_seed(1)
        i = keras.Input((H, W, 3))
        f = keras.layers.GlobalAveragePooling2D(name="gap")(
            keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(i)
        )
        m = keras.Model(
            i, [keras.layers.Dense(3, name="a")(f), keras.layers.Dense(2, name="b")(f)], name="multi_output"
        )
        return Ctx("multi_output", m, x, "conv1", "a", (H, W), multi_output=True)

    def multi_input():
        keras.utils.set_random_seed(1)
        i, v = keras.Input((H, W, 3), name="img"), keras.Input((4,), name="meta")
        f = keras.layers.GlobalAveragePooling2D(name="gap")(
            keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(i)
        )
        m = keras.Model(
            [i, v], keras.layers.Dense(3, name="head")(keras.layers.Concatenate()([f, v])), name="multi_input"
        )
        return Ctx("multi_input", m, [x, np.ones((2, 4), np.float32)], "conv1", "head", (H, W))

    def channels_first():
        xf = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        return Ctx(
            "channels_first",
            _conv_net("cf", (3, H, W), "channels_first"),
            xf,
            "conv2",
            "head",
            (H, W),
            data_format="channels_first",
        )

    def conv1d():
        keras.utils.set_random_seed(1)
        i = keras.Input((32, 2))
        f = keras.layers.Conv1D(4, 3, padding="same", activation="relu", name="conv1")(i)
        f = keras.layers.Conv1D(4, 3, padding="same", activation="relu", name="conv2")(f)
        m = keras.Model(i, keras.layers.Dense(3, name="head")(keras.layers.GlobalAveragePooling1D()(f)), name="signal")
        return Ctx("conv1d", m, RNG.normal(size=(2, 32, 2)).astype("float32"), "conv2", "head", (32,))

    def subclassed():
        m = _Subclassed()
        m(x)
        return Ctx("subclassed", m, x, "conv1", "head", (H, W))

    def tiny_1x1():
        return Ctx("tiny_1x1", _conv_net("tiny", (1, 1, 3), kernel=1), x[:, :1, :1], "conv2", "head", (1, 1))

    def mixed_precision():
        before = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_float16")
        try:
            m = _conv_net("mixed")
        finally:
            keras.config.set_dtype_policy(before)
        return Ctx("mixed_precision", m, x, "conv2", "head", (H, W))

    shapes = dict(
        functional=functional,
        sequential=sequential,
        nested=nested,
        multi_output=multi_output,
        multi_input=multi_input,
        channels_first=channels_first,
        conv1d=conv1d,
        subclassed=subclassed,
        tiny_1x1=tiny_1x1,
        mixed_precision=mixed_precision,
    )
    return {k: v for k, v in shapes.items() if names is None or k in names}
