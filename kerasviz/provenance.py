"""What kerasviz knows about a model it loaded: how its weights were obtained, and its family.

Figures print the weights label ("ImageNet weights", "untrained (random
weights)") so an untrained network is never mistaken for a trained one; the
family decides the default preprocessing ("vgg16": caffe, BGR). Both are
recorded per model object, weakly, and never stored on the model itself.
"""

from __future__ import annotations

import weakref

from kerasviz.preprocessing import preprocessing_mode

UNTRAINED = "untrained (random weights)"
IMAGENET = "ImageNet weights"

_labels: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()
_families: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()


def _check_model(model) -> None:
    from kerasviz.core.graph import check_model

    check_model(model)


def weights_label(model) -> str:
    """How a model's weights were obtained, for figure titles.

    Args:
        model: a Keras model.

    Returns:
        "ImageNet weights", "untrained (random weights)", a label set with
        `set_weights_label`, or "" for models kerasviz did not load.

    Example:
        >>> kv.weights_label(kv.load_vgg16(weights=None))
        'untrained (random weights)'
    """
    _check_model(model)
    return _labels.get(model, "")


def set_weights_label(model, label: str):
    """Record how `model`'s weights were obtained (shown by plots); returns `model`.

    Args:
        model: a Keras model (only an attribute is set; weights and layers are untouched).
        label: e.g. "trained 2 epochs on MNIST".

    Returns:
        `model` itself.

    Example:
        >>> model = kv.set_weights_label(model, "fine-tuned on my photos")
    """
    _check_model(model)
    if not isinstance(label, str):
        from kerasviz.core.errors import ArgumentTypeError

        raise ArgumentTypeError(f"`label` must be a string such as 'untrained'; got {label!r}.")
    _labels[model] = label
    return model


def model_family(model) -> str:
    """The preprocessing family of a model loaded by kerasviz ("vgg16"), else "none".

    Args:
        model: a Keras model.

    Returns:
        The family name `kv.preprocess` takes, or "none".

    Example:
        >>> kv.model_family(kv.load_vgg16(weights=None))
        'vgg16'
    """
    _check_model(model)
    return _families.get(model, "none")


def set_model_family(model, family: str):
    """Record a model's preprocessing family (a name `kv.preprocess` knows); returns `model`."""
    preprocessing_mode(family)  # unknown names fail here
    _families[model] = family.lower()
    return model


def takes_bgr(model) -> bool:
    """Whether the model's input channels are BGR (caffe preprocessing: VGG16/19, ResNet50)."""
    return preprocessing_mode(model_family(model)) == "caffe"
