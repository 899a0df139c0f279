"""Per-family preprocessing of RGB photos, and its inverse for display (NumPy only).

Modes: "caffe" (VGG16/19, ResNet50: RGB -> BGR, minus the ImageNet mean),
"tf" (MobileNetV2, Inception, Xception: x / 127.5 - 1, i.e. [-1, 1]),
"torch" (DenseNet: x / 255, minus the ImageNet mean, over its std) and
"none" (values as given). Feature visualization builds the same mappings in
the graph from these constants.
"""

from __future__ import annotations

import numpy as np

from kerasviz.core.errors import InvalidArgumentError

CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)  # ImageNet mean, BGR, 0-255
TORCH_MEAN = np.array([0.485, 0.456, 0.406], np.float32)  # ImageNet mean, RGB, 0-1
TORCH_STD = np.array([0.229, 0.224, 0.225], np.float32)
FAMILY_MODES = {
    "vgg16": "caffe",
    "vgg19": "caffe",
    "resnet50": "caffe",
    "caffe": "caffe",
    "mobilenet_v2": "tf",
    "inception_v3": "tf",
    "xception": "tf",
    "tf": "tf",
    "densenet": "torch",
    "torch": "torch",
    "none": "none",
}


def preprocessing_mode(family: str) -> str:
    """The mode ("caffe", "tf", "torch", "none") of a family name (case-insensitive).

    Raises:
        InvalidArgumentError: an unknown family; the message lists the known ones.
    """
    try:
        return FAMILY_MODES[str(family).lower()]
    except KeyError:
        raise InvalidArgumentError(
            f"Unknown model family {family!r} for `family`; choose from {sorted(FAMILY_MODES)}."
        ) from None


def _checked_images(images, mode: str) -> np.ndarray:
    """`images` as float32, refused with a clear error when not finite numbers with RGB channels last."""
    from kerasviz.core.arguments import check_array

    x = np.asarray(check_array(images, "images", min_ndim=3, max_ndim=4), np.float32)
    if mode != "none" and x.shape[-1] != 3:
        raise InvalidArgumentError(
            f"`images` must have 3 colour channels last for {mode!r} preprocessing; got shape {x.shape}."
        )
    return x


def preprocess(images, family: str = "vgg16") -> np.ndarray:
    """RGB images in [0, 255] -> the model family's input space (float32).

    Args:
        images: `(H, W, 3)` or `(N, H, W, 3)` RGB, uint8 or float in 0-255.
        family: a model family ("vgg16", "mobilenet_v2", "densenet", ...) or
            a mode ("caffe", "tf", "torch", "none").

    Returns:
        float32 array of the same shape.

    Example:
        >>> x = kv.preprocess(kv.sample_image(size=224))      # (224, 224, 3) BGR, centred
    """
    mode = preprocessing_mode(family)
    x = _checked_images(images, mode)
    if mode == "caffe":
        return x[..., ::-1] - CAFFE_MEAN_BGR
    if mode == "tf":
        return x / 127.5 - 1.0
    if mode == "torch":
        return (x / 255.0 - TORCH_MEAN) / TORCH_STD
    return x


def deprocess(images, family: str = "vgg16", clip: bool = True) -> np.ndarray:
    """The inverse of `preprocess`: model input -> RGB uint8 `[0, 255]` for display.

    Args:
        images: model-space images `(..., 3)`.
        family: as in `preprocess`.
        clip: round and clip to uint8; False returns float RGB in the 0-255
            scale without clipping.

    Returns:
        uint8 (or float32 with `clip=False`) RGB of the same shape.

    Example:
        >>> rgb = kv.deprocess(kv.preprocess(kv.sample_image("cat", size=224)))
    """
    mode = preprocessing_mode(family)
    x = _checked_images(images, mode)
    if mode == "caffe":
        x = (x + CAFFE_MEAN_BGR)[..., ::-1]
    elif mode == "tf":
        x = (x + 1.0) * 127.5
    elif mode == "torch":
        x = (x * TORCH_STD + TORCH_MEAN) * 255.0
    return np.clip(np.round(x), 0, 255).astype(np.uint8) if clip else x
