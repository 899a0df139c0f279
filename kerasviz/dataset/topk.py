"""The images (and receptive-field patches) that activate each filter most.

CS231n's first visualisation: run many images, keep the ones that maximally
fire a unit, and show them. One pass in batches; per image and filter the score
is the filter's maximum over positions (with its argmax location, as in
nefesi); the running top-k of every filter stays on the device, so memory is
O(filters x min(k, N)) whatever the dataset size. Locations map to input crops
through `receptive_field`, so `.patches` are the pixels a unit can see.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import progress_bar
from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError, UnsupportedLayerError
from kerasviz.core.gradients import compile_function
from kerasviz.core.graph import cache
from kerasviz.core.layers import LayerSpec
from kerasviz.core.precision import check_precision, resolve_precision
from kerasviz.core.validate import check_choice, check_int
from kerasviz.dataset.arguments import check_model, check_output_rank, dataset_view, resolve_layer
from kerasviz.dataset.features import cache_key, taps
from kerasviz.dataset.receptive_field import METHODS, ReceptiveField, receptive_field
from kerasviz.dataset.streaming import data_source, run_per_replica

_PATCH_BYTES_LIMIT = 1 << 30
_STATE_BYTES_LIMIT = 1 << 30  # the running top-k (values, indices, positions, labels) and its merge


@dataclass
class TopActivating:
    """The top-k images of every filter of one layer (numpy, on the host).

    Attributes:
        layer: the layer key.
        indices: `(filters, k)` int64 positions in `data` (stream order for
            generators), best first (ties: earlier image first).
        values: `(filters, k)` each image's maximum activation of the filter.
        locations: `(filters, k, 2)` `(row, col)` of that maximum in the feature map.
        boxes: `(filters, k, 4)` `(top, left, bottom, right)` input window of
            the location's receptive field (may extend past the image).
        labels: `(filters, k)` labels of the top images, or None.
        receptive_field: the layer's `ReceptiveField`; its `.method` says how
            the field was found ("exact", "local", "gradient" or "whole image").
        count: images scanned.
        frame: `(top, left, bottom, right)` part of every field window that an
            image pixel can fall into, in window coordinates; patches are cut
            to it (the whole window unless the field is wider than the images reach).
        precision: the compute precision of the scan, "float32" or "bfloat16".
    """

    layer: str
    indices: np.ndarray
    values: np.ndarray
    locations: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray | None
    receptive_field: ReceptiveField
    count: int
    frame: tuple = (0, 0, 0, 0)
    precision: str = "float32"
    _source: object = field(repr=False, default=None)  # DataSource (indexable) or {index: image}
    _patches: np.ndarray | None = field(repr=False, default=None)

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    @property
    def field_method(self) -> str:
        """How the receptive field was found: "exact", "local", "gradient" or "whole image"."""
        return self.receptive_field.method

    def image(self, index: int) -> np.ndarray:
        """Image `index` of the scanned data `(H, W, C)` float32 (kept for top images of streams)."""
        if isinstance(self._source, dict):
            return np.asarray(self._source[int(index)], np.float32)
        return self._source.image(int(index))

    def images(self, filters: Sequence[int] | None = None) -> np.ndarray:
        """`(n, k, H, W, C)` the whole top images of `filters` (default all)."""
        filters = range(len(self.indices)) if filters is None else filters
        return np.stack([np.stack([self.image(i) for i in self.indices[f]]) for f in filters])

    def patch_box(self, f: int, j: int) -> tuple:
        """Input window `(top, left, bottom, right)` of patch `j` of filter `f` (its field box cut to `frame`)."""
        top, left = int(self.boxes[f, j, 0]), int(self.boxes[f, j, 1])
        t, l, b, r = self.frame
        return top + t, left + l, top + b, left + r

    def crops(self, filters: Sequence[int] | None = None, pad_value: float = 0.0) -> np.ndarray:
        """`(n, k, ph, pw, C)` receptive-field crops of `filters`; outside the image = `pad_value`."""
        filters = range(len(self.indices)) if filters is None else filters
        return np.stack(
            [
                np.stack([crop(self.image(i), self.patch_box(f, j), pad_value) for j, i in enumerate(self.indices[f])])
                for f in filters
            ]
        )

    @property
    def patch_size(self) -> tuple:
        """`(ph, pw)` of every patch: the field size, cut to `frame`."""
        t, l, b, r = self.frame
        return b - t, r - l

    @property
    def patches(self) -> np.ndarray:
        """`(filters, k, ph, pw, C)` receptive-field crops of every filter (computed once)."""
        if self._patches is None:
            (ph, pw), (f, k) = self.patch_size, self.indices.shape
            channels = self.image(self.indices[0, 0]).shape[-1]
            if 4 * f * k * ph * pw * channels > _PATCH_BYTES_LIMIT:
                raise MemoryError(
                    f"All patches of {self.layer!r} would take {4 * f * k * ph * pw * channels / 2**30:.1f} GiB; "
                    "use .crops(filters=[...]) for a few filters."
                )
            self._patches = self.crops()
        return self._patches


def whole_image(size: tuple, output_size: tuple = (1, 1)) -> ReceptiveField:
    """The field of a unit that sees the whole image (a Dense unit, a 1x1 map after global pooling)."""
    return ReceptiveField.whole_image(size, output_size)


def crop(image: np.ndarray, box, pad_value: float = 0.0) -> np.ndarray:
    """`image[top:bottom, left:right]` with `pad_value` where the box leaves the image."""
    top, left, bottom, right = (int(v) for v in box)
    h, w = image.shape[:2]
    out = np.full((bottom - top, right - left) + image.shape[2:], pad_value, np.float32)
    t, l, b, r = max(top, 0), max(left, 0), min(bottom, h), min(right, w)
    if b > t and r > l:
        out[t - top : b - top, l - left : r - left] = image[t:b, l:r]
    return out


def reachable_frame(rf: ReceptiveField) -> tuple:
    """`(top, left, bottom, right)` of the field window that some output position sees image pixels in."""
    h, w = (max(int(v or 1), 1) for v in rf.output_size)
    frame = []
    for axis, n, n_in in ((0, h, rf.input_size[0]), (1, w, rf.input_size[1])):
        where = np.zeros((n, 2), np.int64)
        where[:, axis] = np.arange(n)
        lows = rf.boxes(where)[:, axis]
        size = rf.size[axis]
        low, high = max(0, int((-lows).min())), min(size, int((n_in - lows).max()))
        frame.append((low, high) if high > low else (0, size))
    (t, b), (l, r) = frame
    return t, l, b, r


def _per_image_max(model, layer, pre_activation: bool, dtype: str = "float32"):
    """Compiled `x -> (max over positions (B, F), flat argmax (B, F), map size (2,))` for `layer` (cached).

    In bfloat16 the layer's values are rounded to bfloat16 before the maximum
    (the maxima and their positions are those of the rounded map) and returned as float32.
    """

    def build():
        fx = taps(model, [layer], pre_activation=pre_activation, dtype=dtype)
        key = next(iter(fx.output))
        rank = len(fx.output[key].shape)
        if rank not in (2, 4):
            raise UnsupportedLayerError(
                f"`layer` {key!r} has output shape {tuple(fx.output[key].shape)}; top_activating needs a feature "
                "map (N, h, w, c) or a vector of units (N, c)."
            )

        def scores(x):
            a = tf.cast(fx(x, training=False)[key], tf.float32)
            size = tf.shape(a)[1:3] if rank == 4 else tf.constant([1, 1])
            flat = tf.reshape(a, (tf.shape(a)[0], -1, a.shape[-1]))  # (N, c) is a 1x1 map
            return tf.reduce_max(flat, axis=1), tf.argmax(flat, axis=1, output_type=tf.int32), size

        return key, int(fx.output[key].shape[-1]), rank == 4, compile_function(scores)

    return cache.get(model, ("top_activating", cache_key(layer), pre_activation, dtype), build)


def transpose_positions(positions: tf.Tensor) -> tf.Tensor:
    """`tf.transpose` of an int32 `(B, F)` matrix of flat map positions, moved as float32.

    TensorFlow's oneDNN build logs "oneDNN supports DT_INT32 only on platforms
    with AVX-512" at error level the first time a graph transposes an integer
    tensor: a fallback notice that would reach every notebook's stderr.
    Positions below 2**24 (maps up to 4096 x 4096) are exact in float32.
    """
    return tf.cast(tf.transpose(tf.cast(positions, tf.float32)), tf.int32)


@tf.function(reduce_retracing=True)
def _merge(state, values, positions, offset, labels, k):
    """Running top-k: candidates are the kept ones (older images first) then the batch in order.

    `tf.math.top_k` breaks ties by lower position, so the result equals a stable
    argsort of -value over the images seen so far. The state grows to k columns.
    """
    kept_v, kept_i, kept_p, kept_l = state
    n = tf.shape(values)[0]
    filters = tf.shape(kept_v)[0]
    index = offset + tf.range(tf.cast(n, tf.int64), dtype=tf.int64)
    cand_v = tf.concat([kept_v, tf.transpose(values)], 1)
    cand_i = tf.concat([kept_i, tf.broadcast_to(index[None], (filters, n))], 1)
    cand_p = tf.concat([kept_p, transpose_positions(positions)], 1)
    cand_l = tf.concat([kept_l, tf.broadcast_to(labels[None], (filters, n))], 1)
    best = tf.math.top_k(cand_v, k=tf.minimum(k, tf.shape(cand_v)[1]), sorted=True).indices
    return tuple(tf.gather(c, best, batch_dims=1) for c in (cand_v, cand_i, cand_p, cand_l))


def _keep_top_images(kept_images: dict, kept: np.ndarray, batch) -> None:
    """Host copies (in the data's own dtype) of the images in some filter's top-k: streams cannot be re-read."""
    wanted = set(np.unique(kept[kept >= 0]).tolist())
    for index in list(kept_images):
        if index not in wanted:
            del kept_images[index]
    n = int(batch.images.shape[0])
    for index in wanted:
        if batch.offset <= index < batch.offset + n and index not in kept_images:
            image = np.asarray(batch.raw[index - batch.offset])
            kept_images[index] = image.reshape(batch.images.shape[1:])


def _check_state_size(filters: int, width: int, k_given: int) -> None:
    if 48 * filters * width > _STATE_BYTES_LIMIT:
        raise InvalidArgumentError(
            f"`k`={k_given} keeps {filters} filters x {width} images; the running top-k would take "
            f"{48 * filters * width / 2**30:.1f} GiB. Use a smaller k (at most {_STATE_BYTES_LIMIT // (48 * filters)})."
        )


@dataset_view(legacy=("k",))
def top_activating(
    model: keras.Model,
    layer: LayerSpec,
    data=None,
    *,
    k: int = 9,
    labels=None,
    batch_size: int = 64,
    pre_activation: bool = False,
    strategy: tf.distribute.Strategy | None = None,
    field_method: str = "auto",
    precision: str = "auto",
    progress: bool = True,
) -> TopActivating:
    """The k images of `data` that activate each filter of `layer` most, with their patches.

    Args:
        model: a Keras image model; never changed.
        layer: a layer with a 4-D output `(N, h, w, filters)` (conv, pool, ReLU ...),
            or a 2-D one `(N, units)` (Dense: each unit's field is the whole image).
        data: images `(N, H, W, C)` (array or tensor, in the model's input
            space), an `(images, labels)` tuple, a list of batches, a
            `tf.data.Dataset` of images or `(images, labels)`, or a generator
            of batches or `(batch, labels)` tuples.
        k: images kept per filter. More than the data holds is clamped to the
            number of images, with a warning; memory is O(filters x min(k, N)).
        labels: `(N,)` integer labels for array data (other sources carry their own).
        batch_size: images per forward pass for arrays and unbatched datasets.
        pre_activation: rank by the pre-activation of a fused activation.
        strategy: a `tf.distribute.Strategy`; each batch is split across its
            replicas, which compute the per-image maxima; the small running
            top-k is merged once per batch.
        field_method: how to find the receptive field (see `kv.receptive_field`):
            "auto" (exact where the layers can be traced, "local" through
            squeeze-excite gates, else measured from the gradient, else the
            whole image), or "exact", "local", "gradient", "whole image".
        precision: compute precision of the scan: "auto" (bfloat16 where
            this machine runs it natively, see
            `kerasviz.core.precision.bfloat16_support`, else float32),
            "float32" or "bfloat16". In bfloat16 the forward pass costs about
            half; the maxima are those of the bfloat16 map (about 3
            significant digits, returned as float32), so images whose maxima
            are that close may swap ranks. The receptive field is always
            found in float32.
        progress: show a progress bar.

    Returns:
        `TopActivating` with `.indices`, `.values`, `.locations`, `.boxes`,
        `.labels` `(filters, k[, ...])`, `.patches` `(filters, k, ph, pw, C)`
        and `.field_method`. Stream sources keep a host copy of every image
        in some filter's top-k (at most min(filters x k, N) images, in the
        data's own dtype).

    Raises:
        KerasvizError: bad `k` or `batch_size` (not an integer >= 1, or a top-k
            table above 1 GiB), `layer` (unknown, the Input layer, not a map or
            units), `data` (shape, channels, size, NaN/Inf, empty) or `labels`.

    Example:
        >>> top = kv.top_activating(net, "conv2", x_test, k=9, labels=y_test)
        >>> top.indices.shape, top.patches.shape, top.field_method
        ((50, 9), (50, 9, 14, 14, 1), 'exact')
    """
    check_model(model)
    k = check_int(k, "k", minimum=1)
    field_method = check_choice(field_method, "field_method", METHODS)
    precision = check_precision(precision)
    if strategy is not None and not isinstance(strategy, tf.distribute.Strategy):
        raise ArgumentTypeError(f"`strategy` must be a tf.distribute.Strategy or None; got {strategy!r}.")
    layer, found = resolve_layer(model, layer)
    check_output_rank(found, (2, 4), "top_activating needs a feature map (N, h, w, c) or a vector of units (N, c)")
    source = data_source(data, model, batch_size=batch_size, labels=labels)
    dtype = resolve_precision(precision, model)
    key, filters, spatial, scores = _per_image_max(model, layer, pre_activation, dtype)
    k_given = k
    if source.count is not None and k > source.count:
        warnings.warn(
            f"k={k} but `data` holds {source.count} images; keeping the top {source.count} per filter.", stacklevel=2
        )
        k = source.count
    _check_state_size(filters, k if source.count is not None else 1, k_given)
    state = (
        tf.zeros((filters, 0), tf.float32),
        tf.zeros((filters, 0), tf.int64),
        tf.zeros((filters, 0), tf.int32),
        tf.zeros((filters, 0), tf.int64),
    )
    kept_images: dict = {}
    count, map_size, any_labels = 0, (1, 1), False
    k_tensor = tf.constant(k, tf.int32)
    with progress_bar(source.num_batches, f"top-{k} {key}", progress) as bar:
        for batch in source:
            n = int(batch.images.shape[0])
            _check_state_size(filters, min(k, count + n), k_given)
            values, positions, size = run_per_replica(scores, batch.images, strategy)
            any_labels = any_labels or batch.labels is not None
            lab = tf.constant(-1 if batch.labels is None else batch.labels, tf.int64, shape=(n,))
            state = _merge(state, values, positions, tf.constant(batch.offset, tf.int64), lab, k_tensor)
            if not source.indexable:
                _keep_top_images(kept_images, state[1].numpy(), batch)
            count += n
            map_size = tuple(int(v) for v in np.asarray(size).reshape(-1, 2)[0])
            bar.update(1)
    if k > count:
        warnings.warn(f"k={k} but only {count} images were scanned; keeping the top {count} per filter.", stacklevel=2)
    image_size = source.image_size
    if spatial:
        top_images = sorted(set(state[1].numpy()[:, :1].ravel().tolist()))[:2]
        probes = np.stack(
            [source.image(i) if source.indexable else np.asarray(kept_images[i], np.float32) for i in top_images]
        )
        rf = receptive_field(model, layer, input_size=image_size, method=field_method, probes=probes)
    else:
        rf = whole_image(image_size)
    return _result(key, state, rf, count, source if source.indexable else kept_images, any_labels, map_size, dtype)


def _result(
    key, state, rf: ReceptiveField, count: int, source, with_labels: bool, map_size, dtype: str = "float32"
) -> TopActivating:
    values, indices, positions, labels = (t.numpy() for t in state)
    width = map_size[1] if rf.method == "whole image" or rf.output_size[1] is None else rf.output_size[1]
    locations = np.stack(np.divmod(positions, max(int(width), 1)), axis=-1).astype(np.int64)
    boxes = rf.boxes(locations)
    return TopActivating(
        layer=key,
        indices=indices,
        values=values,
        locations=locations,
        boxes=boxes,
        labels=labels if with_labels and (labels >= 0).all() else None,
        receptive_field=rf,
        count=count,
        frame=reachable_frame(rf),
        precision=dtype,
        _source=source,
    )
