"""Figures for 1-D models (signals, time series): a signal with heat strips under it, and activations over time.

Pure matplotlib over arrays computed elsewhere (`kv.saliency`, `kv.grad_cam`,
`kv.occlusion`, `kv.integrated_gradients`, `kv.lrp`, `kv.activations` on a
model whose input is `(N, T, C)`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from kerasviz.core.arguments import checked_arguments
from kerasviz.core.errors import InvalidArgumentError
from kerasviz.core.validate import check_finite_array, check_number


def _signal(signal, name: str = "signal") -> np.ndarray:
    """`(T, C)` float array from `(T,)` or `(T, C)`."""
    array = check_finite_array(signal, name).astype(np.float32)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise InvalidArgumentError(
            f"`{name}` must be one signal (T,) or (T, C); got shape {array.shape} (take one item of a batch: x[i])."
        )
    return array


def _strip(values, length: int, name: str) -> np.ndarray:
    """A map over time as `(rows, T)`: `(T,)` -> one row, `(T, C)` -> one row per channel."""
    array = check_finite_array(values, name).astype(np.float32)
    if array.ndim == 1:
        array = array[None]
    elif array.ndim == 2:
        array = array.T
    else:
        raise InvalidArgumentError(f"`{name}` must be a map over time (T,) or (T, C); got shape {array.shape}.")
    if array.shape[1] != length:
        raise InvalidArgumentError(
            f"`{name}` covers {array.shape[1]} time steps; the signal has {length} (upsample a layer-size map first, "
            "e.g. grad_cam(..., upsample=True))."
        )
    return array


def _scaled(rows: np.ndarray, signed: bool | None, percentile: float) -> tuple[np.ndarray, bool]:
    signed = bool(rows.min() < 0) if signed is None else signed
    values = rows if signed else rows - min(rows.min(), 0.0)
    top = np.percentile(np.abs(values), percentile) if percentile < 100 else np.abs(values).max()
    if top <= 0:
        return np.zeros_like(values), signed
    return np.clip(values / top, -1.0 if signed else 0.0, 1.0), signed


@checked_arguments
def plot_signal_attribution(
    signal,
    maps: np.ndarray | Mapping[str, np.ndarray],
    *,
    title: str = "",
    channel_names: Sequence[str] | None = None,
    signed: bool | None = None,
    percentile: float = 99.0,
    times=None,
    dpi: float | None = None,
) -> Figure:
    """A signal and, under it, one heat strip per map, on a shared time axis.

    Args:
        signal: one signal `(T,)` or `(T, C)` (e.g. `x[0]` of a batch `(N, T, C)`).
        maps: a map over time `(T,)` (saliency, Grad-CAM, occlusion: one strip)
            or `(T, C)` (integrated gradients, LRP: one row per channel), or
            `{method name: map}` for several strips.
        title: figure title.
        channel_names: legend labels of the signal's channels.
        signed: force signed (blue-white-red) or unsigned (white-red) strips;
            default: signed if a map has negative values.
        percentile: clip |map| at this percentile of each strip.
        times: x values `(T,)` (default 0..T-1).
        dpi: figure resolution (default matplotlib's).

    Returns:
        A matplotlib `Figure`.

    Raises:
        InvalidArgumentError: a map whose length is not the signal's, or
            arrays of the wrong rank, NaN or Inf.

    Example:
        >>> fig = kv.plot_signal_attribution(x[0], {"saliency": kv.saliency(model, x)[0],
        ...                                         "Grad-CAM": kv.grad_cam(model, x)[0]})
    """
    values = _signal(signal)
    length, channels = values.shape
    percentile = check_number(percentile, "percentile", minimum=0.0, maximum=100.0, strict_minimum=True)
    named = dict(maps) if isinstance(maps, Mapping) else {"attribution": maps}
    strips = {
        name: _strip(m, length, f"maps[{name!r}]" if isinstance(maps, Mapping) else "maps") for name, m in named.items()
    }
    t = np.arange(length) if times is None else check_finite_array(times, "times").astype(np.float64)
    if t.shape != (length,):
        raise InvalidArgumentError(f"`times` must have one value per time step ({length},); got shape {t.shape}.")
    heights = [2.2] + [0.35 + 0.18 * len(rows) for rows in strips.values()]
    fig = Figure(figsize=(7.5, sum(heights) + (0.4 if title else 0.1)), dpi=dpi, layout="constrained")
    axes = fig.subplots(len(heights), 1, sharex=True, gridspec_kw={"height_ratios": heights})
    axes = np.atleast_1d(axes)
    for c in range(channels):
        label = channel_names[c] if channel_names is not None and c < len(channel_names) else f"channel {c}"
        axes[0].plot(t, values[:, c], lw=1.0, label=label)
    axes[0].set_ylabel("signal", fontsize=9)
    if channels > 1 or channel_names is not None:
        axes[0].legend(fontsize=7, loc="upper right", ncol=min(channels, 4))
    step = (t[-1] - t[0]) / max(length - 1, 1) if length > 1 else 1.0
    extent = (t[0] - step / 2, t[-1] + step / 2)
    for ax, (name, rows) in zip(axes[1:], strips.items()):
        shown, is_signed = _scaled(rows, signed, percentile)
        ax.imshow(
            shown,
            aspect="auto",
            cmap="bwr" if is_signed else "Reds",
            vmin=-1 if is_signed else 0,
            vmax=1,
            extent=(extent[0], extent[1], len(rows) - 0.5, -0.5),
            interpolation="nearest",
        )
        ax.set_yticks(range(len(rows)) if len(rows) > 1 else [])
        if len(rows) > 1:
            ax.set_yticklabels([f"c{i}" for i in range(len(rows))], fontsize=6)
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    axes[-1].set_xlabel("time", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


@checked_arguments
def plot_signal_activations(
    activations,
    *,
    signal=None,
    channels: Sequence[int] | None = None,
    title: str = "",
    dpi: float | None = None,
) -> Figure:
    """A 1-D layer's activations over time: one row per channel (a `(t, c)` heat map), the signal above.

    Args:
        activations: one signal's feature map `(t, c)` (e.g. the first image's
            map in `kv.activations(model, x, "conv1")`, indexed by layer name then image).
        signal: the input signal `(T,)` / `(T, C)` to draw above it (its time
            axis is stretched over the layer's `t` steps); None: the map alone.
        channels: which channels (rows) to show; default all.
        title: figure title.
        dpi: figure resolution.

    Returns:
        A matplotlib `Figure`.

    Example:
        >>> acts = kv.activations(model, x, "conv1")["conv1"][0]
        >>> fig = kv.plot_signal_activations(acts, signal=x[0])
    """
    acts = check_finite_array(activations, "activations").astype(np.float32)
    if acts.ndim != 2:
        raise InvalidArgumentError(
            f"`activations` must be one signal's feature map (t, c); got shape {acts.shape} "
            "(take one item of a batch: acts[i])."
        )
    if channels is not None:
        from kerasviz.core.validate import check_indices

        acts = acts[:, check_indices(channels, "channels", size=acts.shape[1])]
    rows = 2 if signal is not None else 1
    heights = [1.6, 2.6] if signal is not None else [2.6]
    fig = Figure(figsize=(7.5, sum(heights) + (0.4 if title else 0.1)), dpi=dpi, layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, 1, gridspec_kw={"height_ratios": heights}))
    if signal is not None:
        values = _signal(signal)
        axes[0].plot(np.linspace(0, 1, len(values)), values, lw=1.0)
        axes[0].set_xlim(0, 1)
        axes[0].set_xticks([])
        axes[0].set_ylabel("signal", fontsize=9)
    image = axes[-1].imshow(acts.T, aspect="auto", cmap="viridis", interpolation="nearest")
    axes[-1].set_xlabel("time step of the layer", fontsize=9)
    axes[-1].set_ylabel("channel", fontsize=9)
    fig.colorbar(image, ax=axes[-1], fraction=0.03, pad=0.01)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


__all__ = ["plot_signal_attribution", "plot_signal_activations"]
