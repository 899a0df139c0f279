"""Feature visualization by optimisation (issue 5), Lucid-style in separate parts.

- `param`: image parameterizations (pixels; Fourier with 1/f scaling), decorrelated colour.
- `objectives`: channel, feature-map L2 norm, neuron, class logit, direction, DeepDream, diversity; composable.
- `transforms`: jitter / scale / rotate as one on-device warp.
- `regularizers`: total variation, Lp norm, blur every k steps.
- `render`: the compiled batched loop; `visualize_filters`, `visualize_classes`.
- `dream`: `deep_dream`; `inversion`: `invert`.
"""
from kerasviz.featurevis import objectives, param, regularizers, transforms
from kerasviz.featurevis.dream import Dream, deep_dream
from kerasviz.featurevis.inversion import Inversion, invert
from kerasviz.plotting.featurevis import plot_dream, plot_filter_grid, plot_inversion
from kerasviz.featurevis.render import FeatureImages, architecture_defaults, render, visualize_classes, visualize_filters

__all__ = [
    "Dream",
    "Inversion",
    "deep_dream",
    "invert",
    "FeatureImages",
    "architecture_defaults",
    "render",
    "visualize_classes",
    "visualize_filters",
    "plot_dream",
    "plot_filter_grid",
    "plot_inversion",
    "objectives",
    "param",
    "regularizers",
    "transforms",
]
