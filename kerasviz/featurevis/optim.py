"""The optimiser: Adam, element by element, so batch elements stay independent.

Feature visualization optimises a batch of images that must not influence one
another (a filter's image is the same alone or in a batch). Adam's moments and
step are per element by construction; keeping the update a plain function of
tensors lets it live inside the compiled loop with its state on the device.
"""

from __future__ import annotations

import tensorflow as tf


def adam_update(raw, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam *ascent* step (Kingma & Ba, 2015): `raw + lr * m_hat / (sqrt(v_hat) + eps)`.

    Args:
        raw: the parameters (any shape, float32).
        grad: the gradient of the score to maximise (pass minus the gradient to minimise).
        m, v: first and second moment estimates, shaped like `raw` (zeros at the start).
        t: the step number, counting from 1 (a float32 scalar tensor).
        lr: learning rate.

    Returns:
        `(raw, m, v)` after the step.
    """
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * tf.square(grad)
    m_hat = m / (1 - tf.pow(beta1, t))
    v_hat = v / (1 - tf.pow(beta2, t))
    return raw + lr * m_hat / (tf.sqrt(v_hat) + eps), m, v
