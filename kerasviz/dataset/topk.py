"""The images (and receptive-field patches) that activate each filter most.

CS231n's first visualisation: run many images, keep the ones that maximally
fire a unit, and show them. One pass in batches; per image and filter the score
is the filter's maximum over positions (with its argmax location, as in
nefesi); the running top-k of every filter stays on the device, so memory is
O(k x filters) whatever the dataset size. Locations map to input crops through
`receptive_field`, so `.patches` are the exact pixels a unit can see.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasviz.core.gradients import compile_function
from kerasviz._config import progress_bar
from kerasviz.activations import feature_extractor
from kerasviz.core.graph import cache
from kerasviz.core.layers import LayerSpec, find_layer
from kerasviz.dataset.receptive_field import ReceptiveField, receptive_field
from kerasviz.dataset.streaming import as_array_source, is_indexable, num_batches, run_per_replica, stream

_PATCH_BYTES_LIMIT = 1 << 30


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
        receptive_field: the layer's `ReceptiveField`.
        count: images scanned.
    """

    layer: str
    indices: np.ndarray
    values: np.ndarray
    locations: np.ndarray
    boxes: np.ndarray
    labels: Optional[np.ndarray]
    receptive_field: ReceptiveField
    count: int
    _source: object = field(repr=False, default=None)  # indexable data or {index: image}
    _patches: Optional[np.ndarray] = field(repr=False, default=None)

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    def image(self, index: int) -> np.ndarray:
        """Image `index` of the scanned data `(H, W, C)` (kept for top images of streams)."""
        if isinstance(self._source, dict):
            return self._source[int(index)]
        return np.asarray(self._source[int(index)], np.float32).reshape(self._image_shape())

    def _image_shape(self):
        h, w = self.receptive_field.input_size
        return (h, w, -1)

    def images(self, filters: Optional[Sequence[int]] = None) -> np.ndarray:
        """`(n, k, H, W, C)` the whole top images of `filters` (default all)."""
        filters = range(len(self.indices)) if filters is None else filters
        return np.stack([np.stack([self.image(i) for i in self.indices[f]]) for f in filters])

    def crops(self, filters: Optional[Sequence[int]] = None, pad_value: float = 0.0) -> np.ndarray:
        """`(n, k, rf_h, rf_w, C)` receptive-field crops of `filters`; outside the image = `pad_value`."""
        filters = range(len(self.indices)) if filters is None else filters
        return np.stack([np.stack([crop(self.image(i), b, pad_value) for i, b in zip(self.indices[f], self.boxes[f])]) for f in filters])

    @property
    def patches(self) -> np.ndarray:
        """`(filters, k, rf_h, rf_w, C)` receptive-field crops of every filter (computed once)."""
        if self._patches is None:
            (rh, rw), (f, k) = self.receptive_field.size, self.indices.shape
            channels = self.image(self.indices[0, 0]).shape[-1]
            if 4 * f * k * rh * rw * channels > _PATCH_BYTES_LIMIT:
                raise MemoryError(
                    f"All patches of {self.layer!r} would take {4 * f * k * rh * rw * channels / 2**30:.1f} GiB; "
                    "use .crops(filters=[...]) for a few filters."
                )
            self._patches = self.crops()
        return self._patches


def whole_image(size: tuple) -> ReceptiveField:
    """The field of a unit that sees the whole image (a Dense unit, a 1x1 map after global pooling)."""
    return ReceptiveField(size=tuple(size), jump=tuple(size), start=(0, 0), input_size=tuple(size), output_size=(1, 1))


def crop(image: np.ndarray, box, pad_value: float = 0.0) -> np.ndarray:
    """`image[top:bottom, left:right]` with `pad_value` where the box leaves the image."""
    top, left, bottom, right = (int(v) for v in box)
    h, w = image.shape[:2]
    out = np.full((bottom - top, right - left) + image.shape[2:], pad_value, np.float32)
    t, l, b, r = max(top, 0), max(left, 0), min(bottom, h), min(right, w)
    if b > t and r > l:
        out[t - top : b - top, l - left : r - left] = image[t:b, l:r]
    return out


def _per_image_max(model, layer, pre_activation: bool):
    """Compiled `x -> (max over positions (B, F), flat argmax (B, F))` for `layer` (cached)."""

    def build():
        fx = feature_extractor(model, [layer], pre_activation=pre_activation)
        key = next(iter(fx.output))

        rank = len(fx.output[key].shape)
        if rank not in (2, 4):
            raise ValueError(
                f"Layer {key!r} has output shape {fx.output[key].shape}; top_activating needs a feature map "
                "(N, h, w, c) or a vector of units (N, c)."
            )

        def scores(x):
            a = tf.cast(fx(x, training=False)[key], tf.float32)
            flat = tf.reshape(a, (tf.shape(a)[0], -1, a.shape[-1]))  # (N, c) is a 1x1 map
            return tf.reduce_max(flat, axis=1), tf.argmax(flat, axis=1, output_type=tf.int32)

        return key, int(fx.output[key].shape[-1]), rank == 4, compile_function(scores)

    return cache.get(model, ("top_activating", layer if isinstance(layer, (str, int)) else id(layer), pre_activation), build)


@tf.function(reduce_retracing=True)
def _merge(state, values, positions, offset, labels):
    """Running top-k: candidates are the kept k (older images first) then the batch in order.

    `tf.math.top_k` breaks ties by lower position, so the result equals a stable
    argsort of -value over the images seen so far.
    """
    kept_v, kept_i, kept_p, kept_l = state
    n, k = tf.shape(values)[0], tf.shape(kept_v)[1]
    filters = tf.shape(kept_v)[0]
    index = offset + tf.range(tf.cast(n, tf.int64), dtype=tf.int64)
    cand_v = tf.concat([kept_v, tf.transpose(values)], 1)
    cand_i = tf.concat([kept_i, tf.broadcast_to(index[None], (filters, n))], 1)
    cand_p = tf.concat([kept_p, tf.transpose(positions)], 1)
    cand_l = tf.concat([kept_l, tf.broadcast_to(labels[None], (filters, n))], 1)
    best = tf.math.top_k(cand_v, k=k, sorted=True).indices
    return tuple(tf.gather(c, best, batch_dims=1) for c in (cand_v, cand_i, cand_p, cand_l))


def _keep_top_images(cache_images: dict, kept: np.ndarray, batch) -> None:
    """Host copies of the images currently in some filter's top-k (streams cannot be re-read)."""
    wanted = set(np.unique(kept[kept >= 0]).tolist())
    for index in list(cache_images):
        if index not in wanted:
            del cache_images[index]
    n = int(batch.images.shape[0])
    for index in wanted:
        if batch.offset <= index < batch.offset + n and index not in cache_images:
            cache_images[index] = batch.images[index - batch.offset].numpy()


def top_activating(
    model: keras.Model,
    layer: LayerSpec,
    data,
    k: int = 9,
    *,
    labels=None,
    batch_size: int = 64,
    pre_activation: bool = False,
    strategy: Optional[tf.distribute.Strategy] = None,
    progress: bool = True,
) -> TopActivating:
    """The k images of `data` that activate each filter of `layer` most, with their patches.

    Args:
        model: a Keras image model; never changed.
        layer: a layer with a 4-D output `(N, h, w, filters)` (conv, pool, ReLU ...),
            or a 2-D one `(N, units)` (Dense: each unit's field is the whole image).
        data: images `(N, H, W, C)` (array or tensor, in the model's input
            space), a `tf.data.Dataset` of images or `(images, labels)`, or an
            iterable (generator) of batches or `(batch, labels)` tuples.
        k: images kept per filter (fewer if the data has fewer).
        labels: `(N,)` labels for array data (datasets may carry their own).
        batch_size: images per forward pass for arrays and unbatched datasets.
        pre_activation: rank by the pre-activation of a fused activation.
        strategy: a `tf.distribute.Strategy`; each batch is split across its
            replicas, which compute the per-image maxima; the small running
            top-k is merged once per batch.
        progress: show a progress bar.

    Returns:
        `TopActivating` with `.indices`, `.values`, `.locations`, `.boxes`,
        `.labels` `(filters, k[, ...])`, `.patches` `(filters, k, rf_h, rf_w, C)`.

    Example:
        >>> top = kv.top_activating(net, "conv2", x_test, k=9, labels=y_test)
        >>> top.indices.shape, top.patches.shape
        ((50, 9), (50, 9, 14, 14, 1))
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}.")
    find_layer(model, layer)
    key, filters, spatial, scores = _per_image_max(model, layer, pre_activation)
    indexable = is_indexable(data)
    if indexable:
        data = as_array_source(data, model)
        if labels is not None and len(labels) != int(data.shape[0]):
            raise ValueError(f"labels has {len(labels)} entries for {int(data.shape[0])} images.")
    state = (
        tf.fill((filters, k), -np.inf), tf.fill((filters, k), tf.constant(-1, tf.int64)),
        tf.zeros((filters, k), tf.int32), tf.fill((filters, k), tf.constant(-1, tf.int64)),
    )
    images_kept: dict = {}
    count, image_size = 0, None
    with progress_bar(num_batches(data, batch_size), f"top-{k} {key}", progress) as bar:
        for batch in stream(data, model, batch_size, labels):
            values, positions = run_per_replica(scores, batch.images, strategy)
            n = int(batch.images.shape[0])
            lab = tf.constant(-1 if batch.labels is None else batch.labels, tf.int64, shape=(n,))
            state = _merge(state, values, positions, tf.constant(batch.offset, tf.int64), lab)
            if not indexable:
                _keep_top_images(images_kept, state[1].numpy(), batch)
            count += n
            image_size = tuple(batch.images.shape[1:3])
            bar.update(1)
    if image_size is None:
        raise ValueError("`data` yielded no images.")
    rf = receptive_field(model, layer, input_size=image_size) if spatial else whole_image(image_size)
    return _result(key, state, rf, count, data if indexable else images_kept, labels is not None or _has_labels(state))


def _has_labels(state) -> bool:
    return bool(tf.reduce_any(state[3] >= 0))


def _result(key, state, rf: ReceptiveField, count: int, source, with_labels: bool) -> TopActivating:
    values, indices, positions, labels = (t.numpy() for t in state)
    k = min(values.shape[1], count)
    if k < values.shape[1]:
        warnings.warn(f"Only {count} images were scanned; keeping the top {k} per filter.", stacklevel=3)
    values, indices, positions, labels = (a[:, :k] for a in (values, indices, positions, labels))
    w = rf.output_size[1]
    locations = np.stack(np.divmod(positions, w), axis=-1).astype(np.int64)
    top = np.asarray(rf.start)[None, None] + locations * np.asarray(rf.jump)[None, None]
    boxes = np.concatenate([top, top + np.asarray(rf.size)], axis=-1)
    return TopActivating(
        layer=key, indices=indices, values=values, locations=locations, boxes=boxes,
        labels=labels if with_labels else None, receptive_field=rf, count=count, _source=source,
    )
