"""One streaming pass over a dataset for the concept methods, with a fit sample first.

Factorization and the atlas first learn something from a sample (concepts, a
layout) and then go over every image. `Scan` reads any data source the dataset
views accept (through `dataset.streaming.stream`): arrays and tensors are
indexed twice (a seeded random sample, then every image in order); streams are
read once, the first `fit_images` images buffered for the sample and replayed.
`RunningTop` keeps, per unit (concept, channel), the images where it peaks
highest, so memory is O(units x top) whatever the dataset size.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import tensorflow as tf

from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError, UnsupportedLayerError
from kerasviz.core.outputs import output_tensors, resolve_output
from kerasviz.core.targets import target_vector
from kerasviz.concepts._common import argument_errors, check_images
from kerasviz.dataset.receptive_field import ReceptiveField, receptive_field
from kerasviz.dataset.streaming import as_array_source, is_indexable, num_batches, stream


class Scan:
    """A data source read as `(offset, images, labels, target)` batches, with a fit sample.

    Args:
        model: the model the images are checked against.
        data: an array/tensor `(N, H, W, C)`, a `tf.data.Dataset`, or an iterable of batches.
        batch_size: images per batch for arrays and unbatched datasets.
        labels: `(N,)` labels for array data.
    """

    def __init__(self, model, data, batch_size: int, labels=None):
        if data is None:
            raise ArgumentTypeError("`data` must be images (N, H, W, C), a tf.data.Dataset or an iterable of batches; got None.")
        if isinstance(data, (str, bytes, dict)):
            raise ArgumentTypeError(f"`data` must be images, a tf.data.Dataset or an iterable of batches; got {type(data).__name__}.")
        self.model, self.batch_size = model, batch_size
        self.indexable = is_indexable(data)
        if self.indexable:
            with argument_errors("data"):
                data = as_array_source(data, model)
            if int(data.shape[0]) == 0:
                raise InvalidArgumentError("`data` is an empty batch.")
            if labels is not None and len(labels) != int(data.shape[0]):
                raise InvalidArgumentError(f"`labels` has {len(labels)} entries for {int(data.shape[0])} images.")
        elif not hasattr(data, "__iter__"):
            raise ArgumentTypeError(f"`data` must be images, a tf.data.Dataset or an iterable of batches; got {type(data).__name__}.")
        self.data, self.labels = data, labels
        self.count, self.image_size = 0, None
        self._buffer: list = []
        self._stream = None
        self._kept: dict = {}
        self.target = None

    @property
    def size(self) -> Optional[int]:
        return int(self.data.shape[0]) if self.indexable else None

    def total_batches(self) -> Optional[int]:
        """Progress steps: one for the fit, one per batch (None for streams of unknown length)."""
        count = num_batches(self.data, self.batch_size)
        return None if count is None else count + 1

    def _next_batches(self):
        """The source's batches, with data errors reported as `data` errors."""
        source = stream(self.data, self.model, self.batch_size, self.labels if self.indexable else None)
        while True:
            try:
                with argument_errors("data"):
                    batch = next(source)
            except StopIteration:
                return
            yield batch

    def fit_sample(self, fit_images: int, rng: np.random.Generator) -> list:
        """Validated batches of at most `fit_images` images: a seeded sample of an array, the start of a stream."""
        if self.indexable:
            n = int(self.data.shape[0])
            chosen = np.sort(rng.choice(n, min(n, fit_images), replace=False))
            out = []
            for start in range(0, len(chosen), self.batch_size):
                part = chosen[start : start + self.batch_size]
                rows = tf.gather(self.data, part) if isinstance(self.data, tf.Tensor) else np.asarray(self.data[part])
                out.append(check_images(self.model, rows, "data"))
            return out
        self._stream = self._next_batches()
        seen = 0
        for batch in self._stream:
            self._buffer.append(batch)
            seen += int(batch.images.shape[0])
            if seen >= fit_images:
                break
        if not self._buffer:
            raise InvalidArgumentError("`data` yielded no images.")
        return [b.images for b in self._buffer]

    def batches(self):
        """Every image once, in order: `(offset, images, labels or None, target for the batch)`."""
        source = self._next_batches() if self.indexable else _chain(self._buffer, self._stream or self._next_batches())
        self._buffer = []
        for batch in source:
            n = int(batch.images.shape[0])
            target = self.target
            if isinstance(target, np.ndarray):
                target = target[batch.offset : batch.offset + n]
            self.count += n
            self.image_size = tuple(int(s) for s in batch.images.shape[1:3])
            yield batch.offset, batch.images, batch.labels, target
        if self.count == 0:
            raise InvalidArgumentError("`data` yielded no images.")

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
        if self.indexable:
            return np.asarray(self.data[index], np.float32).reshape(self.image_size + (-1,))
        return self._kept[index]

    def geometry(self, spec, shape: tuple, positions: np.ndarray):
        """`(receptive field, boxes (u, top, 4), locations (u, top, 2))` of peak positions in a layer's map."""
        size = self.image_size
        if len(shape) == 1:
            rf = ReceptiveField(size=size, jump=size, start=(0, 0), input_size=size, output_size=(1, 1))
            locations = np.zeros(positions.shape + (2,), np.int64)
        else:
            try:
                rf = receptive_field(self.model, spec, input_size=size)
            except (UnsupportedLayerError, ValueError):
                rf = None
            locations = np.stack(np.divmod(positions, int(shape[1])), axis=-1).astype(np.int64)
        if rf is None:
            return None, None, locations
        corner = np.asarray(rf.start) + locations * np.asarray(rf.jump)
        return rf, np.concatenate([corner, corner + np.asarray(rf.size)], axis=-1), locations


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
        cand = [np.concatenate([a, b], axis=1) for a, b in
                ((self.values, values), (self.indices, index), (self.positions, positions), (self.labels, lab))]
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
        raise InvalidArgumentError("`target` with one class per image needs array data; give one int (or None) for a stream.")
    with argument_errors("target"):
        scan.target = target_vector(target, scan.size, outputs, allow_predicted=True)
    return scan.target
