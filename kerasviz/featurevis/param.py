"""Image parameterizations: what the optimiser changes, and how it becomes RGB.

Lucid's finding (Distill "Feature Visualization", preconditioning): gradient
ascent on raw pixels gives high-frequency noise; the same steps in a whitened
basis (Fourier coefficients scaled by 1/f so all frequencies carry equal
energy, and decorrelated colour) give smooth images, faster.

A parameterization maps a raw tensor to RGB in (0, 1) through colour
decorrelation and a sigmoid. Every batch element is initialised from its own
seed, so a filter's image does not depend on which other filters share the
batch. `encode` inverts `rgb`, which is how octaves hand an image to a larger
size and how an image can seed an optimisation.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kerasviz.core.errors import InvalidArgumentError

# Lucid's square root of ImageNet's colour covariance (SVD), scaled so its largest column norm is 1.
_COLOR_SQRT = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], np.float32)
COLOR_CORRELATION = _COLOR_SQRT / np.max(np.linalg.norm(_COLOR_SQRT, axis=0))
_EPS = 1e-4


def element_seeds(seed: int, ids) -> np.ndarray:
    """Per-element seeds `(n, 2)` int32 from a global seed and each element's id (e.g. filter)."""
    ids = np.asarray(ids, np.int64).reshape(-1)
    return np.stack([np.full_like(ids, int(seed)), ids], axis=1).astype(np.int32)


def _normal(shape, seeds) -> np.ndarray:
    """One N(0, 1) draw of `shape` per row of `seeds`, stacked: `(n, *shape)`."""
    return np.stack([tf.random.stateless_normal(shape, seed=s).numpy() for s in seeds]).astype(np.float32)


class Parameterization:
    """Base class: `init` raw tensors, map them to RGB with `rgb`, invert with `encode`.

    Args:
        decorrelate: mix channels with `COLOR_CORRELATION` (decorrelated colour).
        sd: standard deviation of the initial raw values.
    """

    name = "base"

    def __init__(self, decorrelate: bool = True, sd: float = 0.01):
        self.decorrelate = decorrelate
        self.sd = sd

    @property
    def key(self) -> tuple:
        """Hashable description (for caching compiled loops)."""
        return (type(self).__name__, self.decorrelate, self.sd)

    # --- colour: linear (n, H, W, 3) <-> RGB in (0, 1) ---
    def to_rgb(self, linear: tf.Tensor) -> tf.Tensor:
        if self.decorrelate:
            linear = tf.einsum("nhwc,dc->nhwd", linear, COLOR_CORRELATION)
        return tf.sigmoid(linear)

    def from_rgb(self, rgb) -> tf.Tensor:
        rgb = tf.clip_by_value(tf.cast(rgb, tf.float32), _EPS, 1 - _EPS)
        linear = tf.math.log(rgb) - tf.math.log1p(-rgb)
        if self.decorrelate:
            linear = tf.einsum("nhwd,cd->nhwc", linear, np.linalg.inv(COLOR_CORRELATION).astype(np.float32))
        return linear

    # --- space: raw <-> linear image; subclasses define these ---
    def init(self, seeds: np.ndarray, height: int, width: int) -> tf.Tensor:
        raise NotImplementedError

    def spatial(self, raw: tf.Tensor, height: int, width: int) -> tf.Tensor:
        """The image `(n, H, W, 3)` before colour mixing and sigmoid."""
        raise NotImplementedError

    def encode_spatial(self, linear: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def rgb(self, raw: tf.Tensor, height: int, width: int) -> tf.Tensor:
        """RGB images `(n, H, W, 3)` in (0, 1)."""
        return self.to_rgb(self.spatial(raw, height, width))

    def encode(self, rgb) -> tf.Tensor:
        """Raw values whose `rgb` is `rgb` (clipped to (1e-4, 1 - 1e-4))."""
        return self.encode_spatial(self.from_rgb(rgb))


class Pixels(Parameterization):
    """One free value per pixel and channel (then colour mixing and sigmoid).

    Example:
        >>> p = Pixels(); raw = p.init(element_seeds(0, [0, 1]), 64, 64)
        >>> p.rgb(raw, 64, 64).shape
        TensorShape([2, 64, 64, 3])
    """

    name = "pixels"

    def init(self, seeds, height, width):
        return tf.constant(self.sd * _normal((height, width, 3), seeds))

    def spatial(self, raw, height, width):
        return raw

    def encode_spatial(self, linear):
        return tf.identity(linear)


def _frequency_scale(height: int, width: int, decay_power: float) -> np.ndarray:
    """Lucid's 1/f^decay amplitude scale for an rfft2d grid `(H, W // 2 + 1)`, DC clamped."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[: width // 2 + 1]
    freqs = np.sqrt(fx**2 + fy**2)
    scale = 1.0 / np.maximum(freqs, 1.0 / max(width, height)) ** decay_power
    return (scale * np.sqrt(width * height)).astype(np.float32)


class Fourier(Parameterization):
    """Fourier coefficients scaled by 1/f^decay_power (Lucid's `fft_image`).

    Raw values are `(n, 2, 3, H, W // 2 + 1)`: real and imaginary parts of each
    channel's half spectrum. The `sqrt(H W)` factor makes the inverse FFT
    unitary, so a learning rate means the same as for pixels; the 1/4 is
    Lucid's constant that sets the initial contrast.

    Args:
        decay_power: 1 gives the 1/f spectrum of natural images; 0 is white noise.
        decorrelate: decorrelated colour.
        sd: standard deviation of the initial coefficients.

    Example:
        >>> p = Fourier(); raw = p.init(element_seeds(0, [5]), 128, 128)
        >>> p.rgb(raw, 128, 128).shape
        TensorShape([1, 128, 128, 3])
    """

    name = "fourier"

    def __init__(self, decay_power: float = 1.0, decorrelate: bool = True, sd: float = 0.01):
        super().__init__(decorrelate, sd)
        self.decay_power = decay_power

    @property
    def key(self):
        return super().key + (self.decay_power,)

    def init(self, seeds, height, width):
        return tf.constant(self.sd * _normal((2, 3, height, width // 2 + 1), seeds))

    def spatial(self, raw, height, width):
        scale = _frequency_scale(height, width, self.decay_power)
        spectrum = tf.complex(raw[:, 0], raw[:, 1]) * tf.cast(scale, tf.complex64)
        image = tf.signal.irfft2d(spectrum, fft_length=[height, width])  # (n, 3, H, W)
        return tf.transpose(image, (0, 2, 3, 1)) / 4.0

    def encode_spatial(self, linear):
        height, width = int(linear.shape[1]), int(linear.shape[2])
        spectrum = tf.signal.rfft2d(tf.transpose(4.0 * linear, (0, 3, 1, 2)), fft_length=[height, width])
        spectrum = spectrum / tf.cast(_frequency_scale(height, width, self.decay_power), tf.complex64)
        return tf.stack([tf.math.real(spectrum), tf.math.imag(spectrum)], axis=1)


PARAMETERIZATIONS = {"fourier": Fourier, "pixels": Pixels}


def as_parameterization(param) -> Parameterization:
    """A `Parameterization` from an instance or a name ("fourier", "pixels")."""
    if isinstance(param, Parameterization):
        return param
    if isinstance(param, str) and param.lower() in PARAMETERIZATIONS:
        return PARAMETERIZATIONS[param.lower()]()
    raise InvalidArgumentError(
        f"`param`: unknown parameterization {param!r}; use one of {sorted(PARAMETERIZATIONS)} or a Parameterization."
    )
