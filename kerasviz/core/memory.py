"""How much memory one compiled call will take, checked before the call.

Chunking bounds memory by the rows per compiled call (`batch_size`,
`path_batch_size`, `sample_batch_size`, `mask_batch_size`); a chunk size the
machine cannot hold (`sample_batch_size=10**6` on VGG16) would otherwise end
in an out-of-memory crash of the notebook kernel. `check_rows_per_call` refuses
it first, with the largest size that fits.
"""

from __future__ import annotations

import os

import numpy as np

from kerasviz.core.errors import InvalidArgumentError
from kerasviz.core.layers import is_model, iter_layers, output_shape


def physical_memory() -> int:
    """Bytes of RAM on this machine (a large default if unknown)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 64 * 2**30


def bytes_per_row(model, image_shape: tuple) -> int:
    """Estimated float32 bytes one image takes in a forward and backward pass (inputs + every layer output)."""
    try:
        values = sum(
            int(np.prod([d for d in output_shape(l)[1:] if d is not None]))
            for _, l in iter_layers(model)
            if not is_model(l) and output_shape(l)
        )
    except Exception:  # noqa: BLE001 - subclassed models have no static shapes: inputs only
        values = 0
    return 4 * (2 * values + 2 * int(np.prod(image_shape)))


def check_rows_per_call(model, rows: int, name: str, image_shape: tuple) -> None:
    """Refuse a chunk of `rows` images per compiled call that cannot fit in this machine's memory.

    Raises:
        InvalidArgumentError: the estimate exceeds the physical memory; the
            message gives the largest chunk that fits in half of it.
    """
    per_row = max(bytes_per_row(model, tuple(image_shape)), 1)
    memory = physical_memory()
    if rows * per_row > memory:
        fits = max(1, int(memory // 2 // per_row))
        raise InvalidArgumentError(
            f"`{name}`={rows} puts {rows} images through one compiled call, about {rows * per_row / 2**30:.1f} GiB; "
            f"this machine has {memory / 2**30:.1f} GiB. Use `{name}` <= {fits} (memory stays bounded by it; "
            "the work is split into more calls)."
        )
