"""Attribution maps: one module per method over `core.gradients`.

All methods share `(model, images, target=None, *, output=None, ...)`, explain
logits, and never change the user's model. `registry` lists them by name for
everything that picks a method by name. Plot helpers from
`kerasviz.plotting.attribution` are re-exported here.
"""

from kerasviz.attribution.blackbox import (
    SobolResult,
    SurrogateResult,
    kernel_shap,
    lime,
    rise,
    sobol_attribution,
    superpixels,
)
from kerasviz.attribution.cams import hires_cam, layer_cam, xgrad_cam
from kerasviz.attribution.eigen import eigen_cam
from kerasviz.attribution.faithfulness import AverageDrop, average_drop, infidelity, max_sensitivity, mu_fidelity
from kerasviz.attribution.gradcam import default_cam_layer, grad_cam, grad_cam_plus_plus, guided_grad_cam
from kerasviz.attribution.gradient_stats import gradient_x_input, vargrad
from kerasviz.attribution.integrated_gradients import IntegratedGradients, integrated_gradients
from kerasviz.attribution.metrics import RandomizationResult, deletion_auc, insertion_auc, randomization_check
from kerasviz.attribution.metrics_table import MetricsTable, attribution_metrics
from kerasviz.attribution.occlusion import occlusion
from kerasviz.attribution.pointing_game import PointingGame, pointing_game
from kerasviz.attribution.relu_backprop import deconvnet, guided_backprop
from kerasviz.attribution.saliency import gradient, saliency
from kerasviz.attribution.score_cam import ablation_cam, score_cam
from kerasviz.attribution.smoothgrad import smoothgrad
from kerasviz.plotting.attribution import (
    normalize_map,
    overlay_heatmap,
    plot_attribution,
    plot_attribution_grid,
)
from kerasviz.plotting.metrics import plot_metrics_table, plot_perturbation_curves, plot_randomization

__all__ = [
    "saliency",
    "gradient",
    "smoothgrad",
    "guided_backprop",
    "deconvnet",
    "integrated_gradients",
    "IntegratedGradients",
    "grad_cam",
    "grad_cam_plus_plus",
    "guided_grad_cam",
    "default_cam_layer",
    "occlusion",
    "deletion_auc",
    "insertion_auc",
    "randomization_check",
    "RandomizationResult",
    "plot_attribution",
    "plot_attribution_grid",
    "plot_randomization",
    "plot_perturbation_curves",
    "overlay_heatmap",
    "normalize_map",
    "score_cam",
    "ablation_cam",
    "hires_cam",
    "xgrad_cam",
    "layer_cam",
    "eigen_cam",
    "gradient_x_input",
    "vargrad",
    "rise",
    "lime",
    "kernel_shap",
    "superpixels",
    "SurrogateResult",
    "sobol_attribution",
    "SobolResult",
    "mu_fidelity",
    "average_drop",
    "AverageDrop",
    "pointing_game",
    "PointingGame",
    "infidelity",
    "max_sensitivity",
    "attribution_metrics",
    "MetricsTable",
    "plot_metrics_table",
]
