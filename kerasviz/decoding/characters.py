"""The paper's supplementary experiment: a hand-built net whose filters compose characters.

Layer 1 has 4 stroke detectors (horizontal, vertical, two diagonals, 5x5);
layer 2 has 14 parts built from strokes (three horizontal and three vertical
segments, four corners, two diagonals, a plus and an X, 5x5x4); a 2x2 pool;
layer 4 has 8 characters, each a few parts on a 3x3 grid. Decoding layer 4
should draw the characters, and each decoded character fed back through the net
should excite its own layer-4 unit most (Rafegas & Vanrell, supplement §6).
"""

from __future__ import annotations

import keras
import numpy as np

STROKES = ("horizontal", "vertical", "diagonal", "antidiagonal")
PARTS = (
    "top",
    "middle",
    "bottom",
    "left",
    "centre",
    "right",
    "corner_tl",
    "corner_tr",
    "corner_bl",
    "corner_br",
    "diagonal",
    "antidiagonal",
    "plus",
    "x",
)
# character -> {(row, col) on layer 4's 3x3 grid: part}
CHARACTERS = {
    "C": {(0, 0): "corner_tl", (0, 2): "top", (2, 0): "corner_bl", (2, 2): "bottom", (1, 0): "left"},
    "D": {(0, 0): "corner_tl", (0, 2): "corner_tr", (2, 0): "corner_bl", (2, 2): "corner_br"},
    "L": {(0, 0): "left", (1, 0): "left", (2, 0): "corner_bl", (2, 2): "bottom"},
    "T": {(0, 0): "top", (0, 2): "top", (1, 1): "centre", (2, 1): "centre"},
    "E": {(0, 0): "corner_tl", (1, 0): "plus", (2, 0): "corner_bl", (0, 2): "top", (2, 2): "bottom"},
    "X": {(0, 0): "diagonal", (2, 2): "diagonal", (0, 2): "antidiagonal", (2, 0): "antidiagonal", (1, 1): "x"},
    "H": {(0, 0): "left", (2, 0): "left", (0, 2): "right", (2, 2): "right", (1, 1): "middle"},
    "V": {(0, 0): "diagonal", (0, 2): "antidiagonal", (2, 1): "x"},
}


def _strokes() -> np.ndarray:
    w = np.zeros((5, 5, 1, 4))
    w[2, :, 0, 0] = 1
    w[:, 2, 0, 1] = 1
    w[..., 0, 2] = np.eye(5)
    w[..., 0, 3] = np.eye(5)[::-1]
    return w - w.mean((0, 1), keepdims=True)


def _parts() -> np.ndarray:
    h, v, d, a = range(4)
    w = np.zeros((5, 5, 4, len(PARTS)))
    segments = {
        "top": (h, 0, None),
        "middle": (h, 2, None),
        "bottom": (h, 4, None),
        "left": (v, None, 0),
        "centre": (v, None, 2),
        "right": (v, None, 4),
    }
    for name, (stroke, row, col) in segments.items():
        j = PARTS.index(name)
        w[row if row is not None else slice(None), col if col is not None else slice(None), stroke, j] = 1
    for name, (row, col) in {
        "corner_tl": (0, 0),
        "corner_tr": (0, 4),
        "corner_bl": (4, 0),
        "corner_br": (4, 4),
    }.items():
        j = PARTS.index(name)
        w[row, :, h, j] = 1
        w[:, col, v, j] = 1
    w[..., d, PARTS.index("diagonal")] = np.eye(5)
    w[..., a, PARTS.index("antidiagonal")] = np.eye(5)[::-1]
    w[2, :, h, PARTS.index("plus")] = w[:, 2, v, PARTS.index("plus")] = 1
    w[..., d, PARTS.index("x")] = np.eye(5)
    w[..., a, PARTS.index("x")] = np.eye(5)[::-1]
    return w / w.sum((0, 1, 2), keepdims=True)


def _characters() -> np.ndarray:
    w = np.zeros((3, 3, len(PARTS), len(CHARACTERS)))
    for k, layout in enumerate(CHARACTERS.values()):
        for (row, col), part in layout.items():
            w[row, col, PARTS.index(part), k] = 1
    w -= w.sum((0, 1, 2), keepdims=True) / w[..., 0].size  # zero-mean: everything else inhibits
    return w / np.linalg.norm(w.reshape(-1, w.shape[-1]), axis=0)


def character_net() -> keras.Model:
    """The hand-built character net: conv1 4@5x5 -> ReLU -> conv2 14@5x5 -> ReLU -> pool 2x2 -> conv4 8@3x3.

    Input `(14, 14, 1)` (the receptive field of layer 4); output `(1, 1, 8)`,
    one unit per character of `CHARACTERS` ("C", "D", "L", "T", "E", "X", "H", "V").

    Example:
        >>> net = kv.character_net()
        >>> kv.decode_filters(net, "conv4").shape
        (8, 14, 14, 1)
    """
    x = inputs = keras.Input((14, 14, 1), name="image")
    x = keras.layers.Conv2D(4, 5, activation="relu", name="conv1")(x)
    x = keras.layers.Conv2D(len(PARTS), 5, activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool3")(x)
    x = keras.layers.Conv2D(len(CHARACTERS), 3, name="conv4")(x)
    model = keras.Model(inputs, x, name="character_net")
    for name, kernel in (("conv1", _strokes()), ("conv2", _parts()), ("conv4", _characters())):
        layer = model.get_layer(name)
        layer.set_weights([kernel.astype("float32"), np.zeros(kernel.shape[-1], "float32")])
    return model
