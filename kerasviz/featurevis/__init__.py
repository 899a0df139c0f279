"""Feature visualization by optimisation, in separate parts as Lucid separates them.

- `param`: image parameterizations (pixels; Fourier with 1/f scaling), decorrelated colour.
- `objectives`: channel, feature-map L2 norm, neuron, class logit, direction, DeepDream, diversity; composable.
- `transforms`: jitter / scale / rotate as one on-device warp.
- `regularizers`: total variation, Lp norm, blur every k steps.
- `inputs`: the input space (RGB [0, 1] -> the model's preprocessing), photo reading.
- `optim`: Adam, element by element; `probe`: the tapped model, in the compute precision.
- `loop`: the compiled batched optimisation loop; `results`: `FeatureImages`, `Snapshot`.
- `visualize`: `visualize_filters`, `visualize_classes`, `render_objective`; `cost`: `estimate_seconds`.
- `dream`: `deep_dream`; `inversion`: `invert`.
"""

from kerasviz.featurevis import objectives, param, regularizers, transforms
from kerasviz.featurevis.cost import estimate_seconds
from kerasviz.featurevis.dream import Dream, deep_dream
from kerasviz.featurevis.inputs import architecture_defaults
from kerasviz.featurevis.inversion import Inversion, invert
from kerasviz.featurevis.results import FeatureImages, Snapshot
from kerasviz.featurevis.visualize import render_objective, visualize_classes, visualize_filters
from kerasviz.plotting.featurevis import plot_dream, plot_filter_grid, plot_inversion

__all__ = [
    "Dream",
    "Inversion",
    "deep_dream",
    "invert",
    "FeatureImages",
    "Snapshot",
    "architecture_defaults",
    "estimate_seconds",
    "render_objective",
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
