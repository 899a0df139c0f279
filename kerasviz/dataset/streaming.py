"""One pass over arrays, `tf.data.Dataset`s or generators, in batches, optionally under a strategy.

Every dataset view reads the data once, batch by batch, and reduces each batch
on the device before the next one comes: memory never grows with the dataset.
`stream` turns the supported sources into `(offset, images, labels)` batches;
`run_per_replica` runs a compiled per-batch reduction on one device or, under a
`tf.distribute.Strategy`, on every replica's share of the batch and gathers the
(small) per-image results back in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import numpy as np
import tensorflow as tf

from kerasviz.core.inputs import as_image_batch, expected_image_shape


@dataclass
class Batch:
    offset: int  # global index of the first image
    images: tf.Tensor  # float32 (B, H, W, C)
    labels: Optional[np.ndarray]  # (B,) int or None


def is_indexable(data) -> bool:
    """Arrays and tensors can be indexed again after the scan (for crops); streams cannot."""
    return isinstance(data, (np.ndarray, tf.Tensor)) or (hasattr(data, "__array__") and hasattr(data, "shape"))


def as_array_source(data, model):
    """An indexable batch `(N, ...)`: one image (H, W, C) / (H, W) gains a batch axis."""
    channels = expected_image_shape(model)[-1]
    rank = len(data.shape)
    if rank == 2 or (rank == 3 and channels != 1) or (rank == 3 and data.shape[-1] == 1):
        return data[None]
    return data


def num_batches(data, batch_size: int) -> Optional[int]:
    if is_indexable(data):
        return -(-int(data.shape[0]) // batch_size)
    if isinstance(data, tf.data.Dataset):
        count = int(data.cardinality())
        return count if count >= 0 else None
    return None


def _split(element):
    if isinstance(element, dict):
        return element.get("image", element.get("images", element.get("x"))), element.get("label", element.get("y"))
    if isinstance(element, (tuple, list)):
        return element[0], (element[1] if len(element) > 1 else None)
    return element, None


def stream(data, model, batch_size: int, labels=None) -> Iterator[Batch]:
    """Yield validated float32 batches with their global offset and labels.

    Args:
        data: `(N, H, W, C)` array/tensor (or one image), a `tf.data.Dataset`
            of images or `(images, labels)` (batched or not), or any iterable
            of batches / `(batch, labels)` tuples (e.g. a generator).
        model: the model the images are checked against.
        batch_size: images per batch for arrays and unbatched datasets.
        labels: `(N,)` labels for array data.
    """
    offset = 0
    if is_indexable(data):
        x = as_array_source(data, model)
        for start in range(0, int(x.shape[0]), batch_size):
            images, _ = as_image_batch(x[start : start + batch_size], model)
            lab = None if labels is None else np.asarray(labels)[start : start + len(images)]
            yield Batch(start, images, lab)
        return
    if isinstance(data, tf.data.Dataset):
        image_spec = _split(data.element_spec)[0]
        if len(image_spec.shape) == 3:  # unbatched images
            data = data.batch(batch_size)
        data = data.prefetch(tf.data.AUTOTUNE)
    for element in data:
        images, lab = _split(element)
        images, _ = as_image_batch(images, model)
        lab = None if lab is None else np.asarray(lab).reshape(-1)
        yield Batch(offset, images, lab)
        offset += int(images.shape[0])


def run_per_replica(fn: Callable, images: tf.Tensor, strategy: Optional[tf.distribute.Strategy]):
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
