"""The attribution methods added beside the original ones, described for registries and widgets.

`METHODS[name]` gives, for each method: `function`, a display `label`,
`signed` (the map has meaningful negative values), `needs_layer` (takes a
feature-map `layer=`), `black_box` (reads only `model(x)`), `seeded` (takes
`seed=`), `cost` (forward passes per image, roughly, for a widget's time
estimate) and `options` (the main keyword settings and their defaults, for
widget controls). `METRICS[name]` does the same for the metrics.
"""

from __future__ import annotations

from kerasviz.attribution.blackbox import kernel_shap, lime, rise, sobol_attribution
from kerasviz.attribution.cams import eigen_cam, hires_cam, layer_cam, xgrad_cam
from kerasviz.attribution.faithfulness import average_drop, infidelity, max_sensitivity, mu_fidelity
from kerasviz.attribution.pointing_game import pointing_game
from kerasviz.attribution.gradient_stats import gradient_x_input, vargrad
from kerasviz.attribution.score_cam import ablation_cam, score_cam


def _entry(function, label, *, signed=False, needs_layer=False, black_box=False, seeded=False, cost="1 + backward", options=None):
    return dict(function=function, label=label, signed=signed, needs_layer=needs_layer, black_box=black_box,
                seeded=seeded, cost=cost, options=dict(options or {}))


METHODS = {
    "hires_cam": _entry(hires_cam, "HiResCAM", needs_layer=True),
    "xgrad_cam": _entry(xgrad_cam, "XGradCAM", needs_layer=True),
    "layer_cam": _entry(layer_cam, "LayerCAM", needs_layer=True),
    "eigen_cam": _entry(eigen_cam, "Eigen-CAM", needs_layer=True, cost="1 (no backward)"),
    "score_cam": _entry(score_cam, "Score-CAM", needs_layer=True, cost="channels",
                        options={"weighting": "softmax", "max_channels": None, "mask_batch_size": 16}),
    "ablation_cam": _entry(ablation_cam, "Ablation-CAM", needs_layer=True, cost="channels x the layers after the cut",
                           options={"mask_batch_size": 32}),
    "gradient_x_input": _entry(gradient_x_input, "Gradient x input", signed=True, options={"reduce": None}),
    "vargrad": _entry(vargrad, "VarGrad", seeded=True, cost="samples x (1 + backward)",
                      options={"noise": 0.15, "samples": 50, "reduce": None}),
    "rise": _entry(rise, "RISE", black_box=True, seeded=True, cost="samples",
                   options={"samples": 4000, "grid_size": 7, "keep_probability": 0.5, "baseline": 0.0}),
    "lime": _entry(lime, "LIME", signed=True, black_box=True, seeded=True, cost="samples",
                   options={"n_segments": 50, "samples": 1000, "baseline": 0.0, "alpha": 1.0}),
    "kernel_shap": _entry(kernel_shap, "KernelSHAP", signed=True, black_box=True, seeded=True,
                          cost="2^segments - 2 up to 11 segments, else 2 x segments + 2048",
                          options={"n_segments": 50, "samples": None, "baseline": 0.0}),
    "sobol_attribution": _entry(sobol_attribution, "Sobol", black_box=True, seeded=True,
                                cost="designs x (grid_size^2 + 2)", options={"grid_size": 8, "designs": 32, "baseline": 0.0}),
}

# name -> function, label, higher_is_better, needs (what besides model / images / maps)
METRICS = {
    "mu_fidelity": dict(function=mu_fidelity, label="MuFidelity", higher_is_better=True, needs="maps"),
    "average_drop": dict(function=average_drop, label="Average Drop / Increase", higher_is_better=False, needs="maps"),
    "pointing_game": dict(function=pointing_game, label="Pointing game", higher_is_better=True, needs="ground_truth"),
    "infidelity": dict(function=infidelity, label="Infidelity", higher_is_better=False, needs="maps"),
    "max_sensitivity": dict(function=max_sensitivity, label="Max-sensitivity", higher_is_better=False, needs="method"),
}
