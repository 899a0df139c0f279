"""The exceptions kerasviz raises, all under one base class.

Every error a user can cause (a wrong argument, an unknown layer, a model or
layer a technique cannot handle, missing weights or data) is a
`KerasvizError`, so `except kv.KerasvizError` catches exactly what kerasviz
reports on purpose. Each class also derives from the built-in exception a
Python user would expect (`ValueError` for a bad value, `TypeError` for a
wrong type), so existing `except ValueError` code keeps working.

A message names the argument, what was given and what was expected.
"""

from __future__ import annotations


class KerasvizError(Exception):
    """Base class of every error kerasviz raises on purpose."""


class InvalidArgumentError(KerasvizError, ValueError):
    """An argument has the right type but an unusable value (range, shape, size, NaN)."""


class ArgumentTypeError(KerasvizError, TypeError):
    """An argument has the wrong type (e.g. a float where an integer count is expected)."""


class LayerNotFoundError(KerasvizError, ValueError):
    """Raised for an unknown layer name, path or index; lists the closest names."""


class UnsupportedLayerError(KerasvizError, TypeError, ValueError):
    """A layer has no rule in the requested technique; the message names the layer and its type.

    Shared by the technique families, so `except kv.UnsupportedLayerError` catches them all.
    """


class UnsupportedModelError(KerasvizError, TypeError):
    """The model cannot be used by a technique (e.g. a subclassed model has no inspectable graph)."""


class WeightsUnavailableError(KerasvizError, RuntimeError):
    """Pretrained weights could not be found or downloaded."""


class DatasetUnavailableError(KerasvizError, RuntimeError):
    """A dataset could not be found or downloaded."""


class ImageReadError(KerasvizError, ValueError):
    """An image file could not be read; the message names the file and why."""


__all__ = [
    "KerasvizError",
    "InvalidArgumentError",
    "ArgumentTypeError",
    "LayerNotFoundError",
    "UnsupportedLayerError",
    "UnsupportedModelError",
    "WeightsUnavailableError",
    "DatasetUnavailableError",
    "ImageReadError",
]
