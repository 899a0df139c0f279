"""What feature visualization returns: optimised images with their scores, and progress snapshots."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from kerasviz.core.results import ArrayResult


@dataclass
class FeatureImages(ArrayResult):
    """Optimised images, one per unit (filter or class); behaves as its `images` array.

    Attributes:
        images: `(n, H, W, 3)` float32 RGB in [0, 1], ready for `plt.imshow`
            (grey models: the grey image repeated in 3 channels).
        scores: `(n,)` float32, the objective each image achieves (e.g. the
            filter's mean post-activation), measured in float32 on the final
            image without transforms, whatever the compute precision.
        units: `(n,)` filter or class indices, in the order of `images`.
        initial_scores: `(n,)` the objective on the starting images (float32).
        history: `(steps, n)` the objective at every step (on warped images,
            in the compute precision; pre-activation during warm-up).
        layer: the layer visualised ("" for classes).
        objective: what was maximised.
        label: how the model's weights were obtained (for titles).
        precision: the compute precision used ("float32" or "bfloat16").
    """

    array_field: ClassVar[str] = "images"
    images: np.ndarray
    scores: np.ndarray
    units: np.ndarray
    initial_scores: np.ndarray
    history: np.ndarray
    layer: str = ""
    objective: str = ""
    label: str = ""
    precision: str = "float32"

    @property
    def filters(self) -> np.ndarray:
        """Alias of `units` for filter visualizations."""
        return self.units

    @property
    def classes(self) -> np.ndarray:
        """Alias of `units` for class visualizations."""
        return self.units

    def sorted(self, descending: bool = True) -> FeatureImages:
        """The same result ordered by score (strongest first by default)."""
        order = np.argsort(-self.scores if descending else self.scores, kind="stable")
        return replace(
            self,
            images=self.images[order],
            scores=self.scores[order],
            units=self.units[order],
            initial_scores=self.initial_scores[order],
            history=self.history[:, order],
        )


@dataclass(frozen=True)
class Snapshot:
    """Intermediate images handed to a `callback` while an optimisation runs.

    Attributes:
        images: `(b, H, W, 3)` float32 RGB in [0, 1]: the current images of the
            units being optimised now (one chunk of at most `filter_batch_size`).
        units: `(b,)` their filter or class indices.
        scores: `(b,)` the objective at the last step (on warped images).
        step: steps done so far for these units (1..steps).
        steps: the total number of steps per unit.
        done: units finished before this chunk started.
        total: units in the whole call.
    """

    images: np.ndarray
    units: np.ndarray
    scores: np.ndarray
    step: int
    steps: int
    done: int
    total: int

    @property
    def fraction(self) -> float:
        """Fraction of the whole call's work done, in [0, 1]."""
        return (self.done * self.steps + len(self.units) * self.step) / max(1, self.total * self.steps)
