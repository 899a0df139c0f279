"""Small reference models: the MatConvNet MNIST LeNet of the filter-decoding paper."""

from __future__ import annotations

import keras


def lenet(weight_decay: float = 0.0005, seed: int | None = 0) -> keras.Model:
    """The MatConvNet MNIST LeNet used by Rafegas & Vanrell (`cnn_mnist_init.m`).

    Layers (the paper's L numbers): L1 conv1 5x5x20, L2 pool1 max 2x2, L3 conv2
    5x5x50, L4 pool2, L5 conv3 4x4x500, L6 ReLU, L7 conv4 1x1x10 (logits),
    then flatten and softmax. There is no ReLU after conv1 and conv2, exactly
    as in MatConvNet's example. Weights start as N(0, 0.01^2), biases at 0;
    MatConvNet's weight decay `wd` on filters and biases is `l2(wd / 2)`.

    Args:
        weight_decay: MatConvNet's weightDecay (0.0005).
        seed: seed of the initialisers (None: random).

    Returns:
        A functional `keras.Model` on (N, 28, 28, 1) inputs (0-255 minus the mean
        image), output (N, 10) softmax probabilities. 431,080 parameters.

    Example:
        >>> net = kv.lenet()
        >>> net.get_layer("conv3").kernel.shape
        TensorShape([4, 4, 50, 500])
    """
    from kerasviz.core.validate import check_number, check_seed

    weight_decay = check_number(weight_decay, "weight_decay", minimum=0.0)
    seed = None if seed is None else check_seed(seed)
    reg = keras.regularizers.l2(weight_decay / 2) if weight_decay else None

    def conv(filters, size, name, index):
        init = keras.initializers.RandomNormal(stddev=0.01, seed=None if seed is None else seed + index)
        return keras.layers.Conv2D(
            filters,
            size,
            padding="valid",
            kernel_initializer=init,
            bias_initializer="zeros",
            kernel_regularizer=reg,
            bias_regularizer=reg,
            name=name,
        )

    inputs = keras.Input((28, 28, 1), name="image")
    x = conv(20, 5, "conv1", 1)(inputs)  # L1
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)  # L2
    x = conv(50, 5, "conv2", 2)(x)  # L3
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)  # L4
    x = conv(500, 4, "conv3", 3)(x)  # L5
    x = keras.layers.ReLU(name="relu3")(x)  # L6
    x = conv(10, 1, "conv4", 4)(x)  # L7
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Softmax(name="softmax")(x)
    return keras.Model(inputs, outputs, name="lenet")
