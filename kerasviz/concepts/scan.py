"""One streaming pass over a dataset for the concept methods, with a fit sample first.

Factorization and the atlas first learn something from a sample (concepts, a
layout) and then go over every image. `Scan` reads any data source the dataset
views accept, through their one adapter (`dataset.streaming.data_source`):
indexable sources (arrays, tensors, lists of batches) are read twice (a seeded
random sample, then every image in order); streams (datasets, generators) are
read once, the first `fit_images` images buffered for the sample and replayed.
`RunningTop` keeps, per unit (concept, channel), the images where it peaks
highest, so memory is O(units x top) whatever the dataset size.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kerasviz.concepts._common import argument_errors
from kerasviz.core.errors import InvalidArgumentError, UnsupportedLayerError
from kerasviz.core.outputs import output_tensors, resolve_output
from kerasviz.core.targets import target_vector
from kerasviz.dataset.receptive_field import ReceptiveField, receptive_field
from kerasviz.dataset.streaming import data_source


class Scan:
    """A data source read as `(offset, images, labels, target)` batches, with a fit sample.

    Args:
        model: the model the images are checked against.
        data: any source `data_source` accepts.
        batch_size: images per batch for arrays and unbatched datasets.
        labels: `(N,)` labels for array data.
    """

    def __init__(self, model, data, batch_size: int, labels=None):
        self.model, self.batch_size = model, batch_size
        self.source = data_source(data, model, batch_size=batch_size, labels=labels, name="data")
        self.indexable = self.source.indexable
        self.count, self.image_size = 0, self.source.image_size
        self._buffer: list = []
        self._stream = None
        self._kept: dict = {}
        self.target = None

    @property
    def size(self) -> int | None:
        return self.source.count

    def total_batches(self) -> int | None:
        """Progress steps: one for the fit, one per batch (None for streams of unknown length)."""
        count = self.source.num_batches
        return None if count is None else count + 1

    def fit_sample(self, fit_images: int, rng: np.random.Generator) -> list:
        """Batches of at most `fit_images` images: a seeded sample of an indexable source, the start of a stream."""
        if self.indexable:
            n = self.source.count
            chosen = np.sort(rng.choice(n, min(n, fit_images), replace=False))
            return [
                tf.constant(np.stack([self.source.image(i) for i in chosen[s : s + self.batch_size]]))
                for s in range(0, len(chosen), self.batch_size)
            ]
        self._stream = iter(self.source)
        seen = 0
        for batch in self._stream:
            self._buffer.append(batch)
            seen += int(batch.images.shape[0])
            if seen >= fit_images:
                break
        return [b.images for b in self._buffer]

    def batches(self):
        """Every image once, in order: `(offset, images, labels or None, target for the batch)`."""
        source = iter(self.source) if self.indexable else _chain(self._buffer, self._stream or iter(self.source))
        self._buffer = []
        for batch in source:
            n = int(batch.images.shape[0])
            target = self.target
            if isinstance(target, np.ndarray):
                target = target[batch.offset : batch.offset + n]
            self.count += n
            self.image_size = tuple(int(s) for s in batch.images.shape[1:3])
            yield batch.offset, batch.images, batch.labels, target

    def keep(self, indices: np.ndarray, offset: int, images) -> None:
        """Host copies of the images some unit keeps in its top (streams cannot be read again)."""
        if self.indexable:
            return
        wanted = set(np.unique(indices[indices >= 0]).tolist())
        for index in list(self._kept):
            if index not in wanted:
                del self._kept[index]
        n = int(images.shape[0])
        for index in wanted:
            if offset <= index < offset + n and index not in self._kept:
                self._kept[index] = np.asarray(images[index - offset])

    def image(self, index: int) -> np.ndarray:
        return self.source.image(index) if self.indexable else self._kept[index]

    def geometry(self, spec, shape: tuple, positions: np.ndarray):
        """`(receptive field, boxes (u, top, 4), locations (u, top, 2))` of peak positions in a layer's map."""
        if len(shape) == 1:
            rf = ReceptiveField.whole_image(self.image_size)
            locations = np.zeros(positions.shape + (2,), np.int64)
        else:
            try:
                rf = receptive_field(self.model, spec, input_size=self.image_size)
            except (UnsupportedLayerError, ValueError):
                rf = None
            locations = np.stack(np.divmod(positions, int(shape[1])), axis=-1).astype(np.int64)
        if rf is None:
            return None, None, locations
        return rf, rf.boxes(locations), locations


def _chain(buffer: list, rest):
    yield from buffer
    yield from rest


class RunningTop:
    """Per unit, the `top` images with the highest value (ties: earlier image first)."""

    def __init__(self, units: int, top: int):
        self.top = top
        self.values = np.full((units, 0), -np.inf)
        self.indices = np.full((units, 0), -1, np.int64)
        self.positions = np.full((units, 0), -1, np.int64)
        self.labels = np.full((units, 0), -1, np.int64)
        self.any_labels = False

    def update(self, values: np.ndarray, positions: np.ndarray, offset: int, labels=None) -> None:
        """`values`, `positions`: `(units, n)` for images `offset .. offset + n - 1`."""
        units, n = values.shape
        index = np.broadcast_to(offset + np.arange(n), (units, n))
        lab = np.broadcast_to(np.full(n, -1) if labels is None else np.asarray(labels).reshape(-1), (units, n))
        self.any_labels |= labels is not None
        cand = [
            np.concatenate([a, b], axis=1)
            for a, b in ((self.values, values), (self.indices, index), (self.positions, positions), (self.labels, lab))
        ]
        best = np.argsort(-cand[0], axis=1, kind="stable")[:, : self.top]
        self.values, self.indices, self.positions, self.labels = (np.take_along_axis(c, best, 1) for c in cand)

    def result(self):
        return self.values, self.indices, (self.labels if self.any_labels else None)


def check_data_target(model, target, scan: Scan, output):
    """The target for a dataset scan, checked before any model work; sets `scan.target`."""
    if target is None or callable(target):
        resolve_output(model, output)
        scan.target = target
        return target
    index = resolve_output(model, output)
    outputs = int(np.prod(output_tensors(model)[index].shape[1:]))
    values = np.asarray(target)
    if values.ndim == 0:
        with argument_errors("target"):
            scan.target = int(target_vector(target, 1, outputs, allow_predicted=True)[0])
        return scan.target
    if not scan.indexable:
        raise InvalidArgumentError(
            "`target` with one class per image needs array data; give one int (or None) for a stream."
        )
    with argument_errors("target"):
        scan.target = target_vector(target, scan.size, outputs, allow_predicted=True)
    return scan.target
