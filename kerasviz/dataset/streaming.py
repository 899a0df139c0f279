"""The one data adapter of the dataset views: every source, read once, in validated batches.

Every dataset view (`top_activating`, `neuron_feature`, `dead_filters`,
`activation_summary`, `filter_similarity`, `redundant_filters`,
`embedding_grid`) reads its `data` through `data_source`, so they all accept the
same sources:

- an array or tensor `(N, H, W, C)` (or one image `(H, W, C)`; `(N, H, W)` for
  one-channel models), with `labels=` `(N,)` if wanted;
- a tuple `(images, labels)` of two such arrays;
- a list or tuple of batches, each an array or an `(images, labels)` tuple;
- a `tf.data.Dataset` of images, `(images, labels)` or dicts with an
  "image"/"images"/"x" and a "label"/"y" entry, batched or not;
- any iterator or generator of such batches.

Arrays, tuples and lists are checked whole (shape, channels, size, NaN/Inf,
labels) before any model work; streams are checked batch by batch. Every
problem is a `KerasvizError` naming the argument. `run_per_replica` runs a
compiled per-batch reduction on one device or split across a
`tf.distribute.Strategy`'s replicas.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError, KerasvizError
from kerasviz.core.inputs import as_image_batch, expected_image_shape
from kerasviz.core.validate import check_int

_CHECK_CHUNK = 1 << 24  # values checked for NaN/Inf at a time (bounded temporaries)


@dataclass
class Batch:
    """One validated batch.

    Attributes:
        offset: global index of its first image in the source.
        images: float32 tensor `(B, H, W, C)`.
        labels: `(B,)` int64 labels, or None.
        raw: the batch as given (its own dtype, e.g. uint8), for host copies.
    """

    offset: int
    images: tf.Tensor
    labels: np.ndarray | None
    raw: object


def _is_array(value) -> bool:
    return isinstance(value, (np.ndarray, tf.Tensor, tf.Variable)) or (
        hasattr(value, "__array__") and hasattr(value, "shape") and not isinstance(value, (list, tuple))
    )


def _split(element):
    """`(images, labels)` of one stream element: an array, an `(x, y)` tuple or a dict."""
    if isinstance(element, dict):
        images = next((element[k] for k in ("image", "images", "x") if k in element), None)
        if images is None:
            raise InvalidArgumentError(
                f"`data` yields dicts with keys {sorted(element)}; kerasviz reads the images from an "
                "'image', 'images' or 'x' entry (and labels from 'label' or 'y')."
            )
        return images, next((element[k] for k in ("label", "labels", "y") if k in element), None)
    if isinstance(element, (tuple, list)):
        if not element:
            raise InvalidArgumentError("`data` yields an empty tuple; expected images or (images, labels).")
        return element[0], (element[1] if len(element) > 1 else None)
    return element, None


def _wrap(err: Exception, where: str) -> KerasvizError:
    """A core input error (ValueError / TypeError) as a KerasvizError that says where it happened."""
    if isinstance(err, KerasvizError):
        return err
    cls = ArgumentTypeError if isinstance(err, TypeError) else InvalidArgumentError
    return cls(f"{err} ({where})" if where else str(err))


def _labels_array(labels, n: int, where: str, name: str = "labels") -> np.ndarray:
    """`(n,)` int64 class indices >= 0 from whatever the user passed."""
    array = np.asarray(labels.numpy() if isinstance(labels, tf.Tensor) else labels)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        hint = " (one-hot? pass y.argmax(-1))" if array.ndim == 2 else ""
        raise InvalidArgumentError(f"`{name}` must be (N,) class indices{hint}; got shape {array.shape}{where}.")
    if len(array) != n:
        raise InvalidArgumentError(f"`{name}` has {len(array)} entries for {n} images{where}.")
    if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise ArgumentTypeError(f"`{name}` must hold integer class indices; got dtype {array.dtype}{where}.")
    if n and array.min() < 0:
        raise InvalidArgumentError(f"`{name}` must be class indices >= 0; got {int(array.min())}{where}.")
    return array.astype(np.int64)


def _check_finite(array, name: str) -> None:
    """NaN/Inf (or float64 values beyond float32's range) anywhere in an indexable source, in bounded chunks."""
    if isinstance(array, (tf.Tensor, tf.Variable)):
        if array.dtype.is_floating and not bool(tf.reduce_all(tf.math.is_finite(tf.cast(array, tf.float32)))):
            bad = int(tf.reduce_sum(tf.cast(~tf.math.is_finite(array), tf.int64)))
            if bad == 0:
                raise InvalidArgumentError(f"`{name}` holds values beyond float32's range (±3.4e38).")
            raise InvalidArgumentError(f"`{name}` contains {bad} NaN or Inf value(s); images must be finite.")
        return
    n = int(array.shape[0])
    per_image = max(1, int(np.prod(array.shape[1:])))
    step = max(1, _CHECK_CHUNK // per_image)
    if not np.issubdtype(np.asarray(array[:1]).dtype, np.floating):
        return
    bad, peak = 0, 0.0
    for start in range(0, n, step):
        chunk = np.asarray(array[start : start + step])
        finite = np.isfinite(chunk)
        bad += int((~finite).sum())
        if chunk.dtype.itemsize > 4 and finite.any():
            peak = max(peak, float(np.abs(chunk[finite]).max()))
    if bad:
        raise InvalidArgumentError(f"`{name}` contains {bad} NaN or Inf value(s); images must be finite.")
    if peak > float(np.finfo(np.float32).max):
        raise InvalidArgumentError(f"`{name}` holds values up to {peak:.3g}, beyond float32's range (±3.4e38).")


class DataSource:
    """A data source checked against a model, read in `(offset, images, labels)` batches.

    Build it with `data_source(...)`. Iterating yields `Batch`es; an indexable
    source (array, tensor, `(images, labels)`, list of arrays) can be iterated
    again and read by image index (`image(i)`), a stream (dataset, generator)
    is read once.

    Attributes:
        indexable: images can be read again by index after the scan.
        count: number of images if known before the scan, else None.
        num_batches: number of batches if known (for progress bars), else None.
        labels: `(N,)` int64 labels of an indexable source, or None.
    """

    def __init__(self, data, model, batch_size: int, labels=None, name: str = "data"):
        self.model, self.batch_size, self.name = model, batch_size, name
        self._expected = expected_image_shape(model)
        self._size: tuple | None = None
        self.labels: np.ndarray | None = None
        self._parts: list | None = None  # indexable: [(images, labels)], one per list element
        self._stream = None
        self.indexable, self.count, self.num_batches = False, None, None
        if (
            isinstance(data, tuple)
            and len(data) == 2
            and _is_array(data[0])
            and _is_array(data[1])
            and len(np.shape(data[1])) in (1, 2)
            and len(np.shape(data[0])) >= 3
        ):
            if labels is not None:
                raise InvalidArgumentError(f"`{name}` is an (images, labels) pair and `labels` is given too; pass one.")
            data, labels = data
        if _is_array(data):
            self._parts = [(self._as_batch_array(data, f"`{name}`"), labels)]
        elif isinstance(data, (list, tuple)):
            if not data:
                raise InvalidArgumentError(f"`{name}` is an empty list; give images or batches of images.")
            if labels is not None:
                raise InvalidArgumentError(
                    "`labels` cannot be combined with a list of batches; put (images, labels) tuples in the list."
                )
            self._parts = []
            for i, element in enumerate(data):
                images, lab = _split(element)
                if not _is_array(images):
                    raise ArgumentTypeError(
                        f"`{name}`[{i}] is a {type(images).__name__}; a list source holds arrays (N, H, W, C) "
                        "or (images, labels) tuples."
                    )
                self._parts.append((self._as_batch_array(images, f"`{name}`[{i}]"), lab))
        elif isinstance(data, tf.data.Dataset):
            if labels is not None:
                raise InvalidArgumentError("`labels` goes with array data; a tf.data.Dataset carries its own labels.")
            self._stream = self._dataset(data)
        elif data is not None and hasattr(data, "__iter__") and not isinstance(data, (str, bytes, dict)):
            if labels is not None:
                raise InvalidArgumentError("`labels` goes with array data; a generator yields (images, labels) itself.")
            self._stream = data
        else:
            raise ArgumentTypeError(
                f"`{name}` must be images (N, H, W, C) as an array or tensor, an (images, labels) tuple, a list "
                f"of batches, a tf.data.Dataset or a generator of batches; got {type(data).__name__}."
            )
        if self._parts is not None:
            self._index(labels)

    # ----------------------------------------------------------------- indexable sources

    def _as_batch_array(self, images, where: str):
        """Check an in-memory batch against the model (dtype, shape, channels, size, finite) without copying it."""
        dtype = tf.as_dtype(images.dtype) if isinstance(images, (tf.Tensor, tf.Variable)) else None
        if dtype is None:
            raw_dtype = getattr(images, "dtype", None)
            np_dtype = np.dtype(raw_dtype) if raw_dtype is not None else np.asarray(images[:1]).dtype
            if np_dtype == object or np_dtype.kind not in "uif":
                raise ArgumentTypeError(f"{where} must hold numbers (float or integer); got dtype {np_dtype}.")
        elif dtype.is_bool or not (dtype.is_floating or dtype.is_integer):
            raise ArgumentTypeError(f"{where} must hold numbers (float or integer); got dtype {dtype.name}.")
        if not isinstance(images, (np.ndarray, tf.Tensor, tf.Variable)):
            images = np.asarray(images)
        shape = tuple(int(v) for v in images.shape)
        h, w, c = self._expected
        rank = len(shape)
        if rank == 2 and c == 1:
            images = images[None, ..., None]  # one grayscale image (H, W)
        elif rank == 3 and (c != 1 or shape[-1] == 1):
            images = images[None]  # one image (H, W, C)
        elif rank == 3:
            images = images[..., None]  # a grayscale batch (N, H, W)
        elif rank != 4:
            raise InvalidArgumentError(
                f"{where} must be one image (H, W, C) or a batch (N, H, W, C); got shape {shape}. "
                f"Model {self.model.name!r} expects (N, {h}, {w}, {c})."
            )
        shape = tuple(int(v) for v in images.shape)
        if shape[-1] != c:
            hint = " Repeat grayscale images to RGB with np.repeat(x, 3, -1)." if shape[-1] == 1 and c == 3 else ""
            raise InvalidArgumentError(
                f"{where} has {shape[-1]} channel(s) (shape {shape}); model {self.model.name!r} expects {c}.{hint}"
            )
        if (h is not None and shape[1] != h) or (w is not None and shape[2] != w):
            raise InvalidArgumentError(
                f"{where} holds {shape[1]}x{shape[2]} images (shape {shape}); model {self.model.name!r} expects "
                f"{h}x{w} (resize with tf.image.resize)."
            )
        if shape[0] == 0:
            raise InvalidArgumentError(f"{where} is empty (0 images).")
        self._check_size(shape[1:3], where)
        _check_finite(images, self.name)
        return images

    def _index(self, labels) -> None:
        counts = [int(p[0].shape[0]) for p in self._parts]
        self._starts = np.concatenate([[0], np.cumsum(counts)])
        self.count = int(self._starts[-1])
        if labels is not None:
            self.labels = _labels_array(labels, self.count, "")
        elif all(p[1] is not None for p in self._parts):
            self.labels = np.concatenate(
                [_labels_array(l, int(p.shape[0]), f" in `{self.name}`[{i}]") for i, (p, l) in enumerate(self._parts)]
            )
        self.indexable = True
        self.num_batches = int(sum(-(-n // self.batch_size) for n in counts))

    def image(self, index: int) -> np.ndarray:
        """Image `index` `(H, W, C)` as float32 (indexable sources only)."""
        part = int(np.searchsorted(self._starts, index, side="right") - 1)
        images = self._parts[part][0]
        return np.asarray(images[int(index - self._starts[part])], np.float32)

    # ----------------------------------------------------------------- streams

    def _dataset(self, data: tf.data.Dataset):
        spec = data.element_spec
        image_spec = _split(spec)[0]
        if not isinstance(image_spec, tf.TensorSpec):
            raise ArgumentTypeError(
                f"`{self.name}` is a tf.data.Dataset of {type(image_spec).__name__}; expected "
                "image tensors or (images, labels)."
            )
        if not (image_spec.dtype.is_floating or image_spec.dtype.is_integer) or image_spec.dtype.is_bool:
            raise ArgumentTypeError(f"`{self.name}` yields {image_spec.dtype.name} tensors; images must be numbers.")
        h, w, c = self._expected
        rank = image_spec.shape.rank
        if rank == 3 and not (c == 1 and image_spec.shape[-1] not in (1, None)) or (rank == 2 and c == 1):
            data = data.batch(self.batch_size)  # unbatched images
        cardinality = int(data.cardinality())
        self.num_batches = cardinality if cardinality >= 0 else None
        return data.prefetch(tf.data.AUTOTUNE)

    # ----------------------------------------------------------------- shared

    def _check_size(self, size: tuple, where: str) -> None:
        if self._size is None:
            self._size = size
        elif size != self._size:
            raise InvalidArgumentError(
                f"{where} holds {size[0]}x{size[1]} images, earlier ones {self._size[0]}x{self._size[1]}; "
                "all images of one scan must have one size."
            )

    @property
    def image_size(self) -> tuple | None:
        """`(H, W)` of the images (known up front for indexable sources, after the first batch for streams)."""
        return self._size

    def __iter__(self) -> Iterator[Batch]:
        if self._parts is not None:
            yield from self._iter_parts()
        else:
            yield from self._iter_stream()

    def _iter_parts(self) -> Iterator[Batch]:
        for (images, _), start in zip(self._parts, self._starts):
            for s in range(0, int(images.shape[0]), self.batch_size):
                raw = images[s : s + self.batch_size]
                x = tf.cast(tf.convert_to_tensor(raw), tf.float32)
                offset = int(start) + s
                lab = None if self.labels is None else self.labels[offset : offset + int(x.shape[0])]
                yield Batch(offset, x, lab, raw)

    def _iter_stream(self) -> Iterator[Batch]:
        offset = 0
        try:
            iterator = iter(self._stream)
        except TypeError as err:
            raise ArgumentTypeError(f"`{self.name}` cannot be iterated: {err}") from None
        for i, element in enumerate(iterator):
            where = f"batch {i} of `{self.name}`"
            images, lab = _split(element)
            try:
                x, single = as_image_batch(images, self.model, name=self.name)
            except (ValueError, TypeError) as err:
                raise _wrap(err, where) from None
            self._check_size(tuple(x.shape[1:3]), where)
            n = int(x.shape[0])
            lab = None if lab is None else _labels_array(lab, n, f" in {where}")
            yield Batch(offset, x, lab, images[None] if single else images)
            offset += n
        if offset == 0:
            raise InvalidArgumentError(f"`{self.name}` yielded no images.")


def data_source(data, model, *, batch_size: int = 64, labels=None, name: str = "data", required: bool = True):
    """Check `data` against `model` and wrap it as a `DataSource` (None if optional and not given).

    Args:
        data: any supported source (see the module docstring).
        model: the model the images must fit (channels, size).
        batch_size: images per batch for arrays and unbatched datasets (>= 1).
        labels: `(N,)` integer labels for array data.
        name: the argument's name, for messages.
        required: raise if `data` is None.

    Raises:
        ArgumentTypeError: an unsupported kind of source or non-numeric data.
        InvalidArgumentError: wrong shape, channels or size, an empty source,
            NaN/Inf, images of different sizes, or labels that do not fit.
    """
    if isinstance(data, DataSource):
        return data
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if data is None:
        if required:
            raise InvalidArgumentError(
                f"`{name}` is required: pass images (N, H, W, C), a tf.data.Dataset or a generator."
            )
        return None
    return DataSource(data, model, batch_size, labels, name)


def image_batch(images, model, *, name: str = "images") -> tuple:
    """`(float32 batch (N, H, W, C), single)` for per-image input, with KerasvizErrors naming `name`.

    The per-image counterpart of `data_source` (one image or one array, no
    streams): the model's checks of `core.inputs.as_image_batch`, reported as
    `InvalidArgumentError` / `ArgumentTypeError`.
    """
    if images is None:
        raise InvalidArgumentError(f"`{name}` is required: one image (H, W, C) or a batch (N, H, W, C).")
    if not _is_array(images):
        raise ArgumentTypeError(
            f"`{name}` must be one image (H, W, C) or a batch (N, H, W, C); got {type(images).__name__}."
        )
    try:
        return as_image_batch(images, model, name=name)
    except (ValueError, TypeError) as err:
        raise _wrap(err, "") from None


def run_per_replica(fn: Callable, images: tf.Tensor, strategy: tf.distribute.Strategy | None):
    """`fn(images)` on one device, or split across `strategy`'s replicas and gathered in order."""
    if strategy is None:
        return fn(images)
    replicas = strategy.num_replicas_in_sync
    n = int(images.shape[0])
    bounds = np.linspace(0, n, replicas + 1).astype(int)

    def shard(ctx):
        i = ctx.replica_id_in_sync_group
        return images[bounds[i] : bounds[i + 1]]

    per_replica = strategy.experimental_distribute_values_from_function(shard)
    outputs = strategy.run(fn, args=(per_replica,))
    return tf.nest.map_structure(lambda t: strategy.gather(t, axis=0), outputs)
