"""The one result pattern: a dataclass that also behaves as its main array.

A method that returns side information with its map (integrated gradients'
completeness error, LRP's relevance per layer, deletion curves, feature
visualization's scores) returns a dataclass deriving from `ArrayResult`. Its
main array is the field named by `array_field`; `np.asarray(result)`,
`result.shape`, `result[i]` and `len(result)` read that array, so code written
for a plain array keeps working, and the side information is a named,
documented attribute. Methods without side information return plain float32
NumPy arrays.

    @dataclass(frozen=True)
    class Relevance(ArrayResult):
        array_field: ClassVar[str] = "relevance"
        relevance: np.ndarray
        layers: dict
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np


class ArrayResult:
    """Mixin for result dataclasses: the field named `array_field` is the main array."""

    array_field: ClassVar[str] = ""

    @property
    def array(self) -> np.ndarray:
        """The main array (the same object as the field named by `array_field`)."""
        return getattr(self, type(self).array_field)

    def __array__(self, dtype=None, copy=None):
        array = np.asarray(self.array)
        return array if dtype is None else array.astype(dtype)

    @property
    def shape(self) -> tuple:
        return np.shape(self.array)

    @property
    def dtype(self):
        return np.asarray(self.array).dtype

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index):
        return self.array[index]
