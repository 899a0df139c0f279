"""The built-in entries of the attribution registry: every method and metric kerasviz ships.

Each method says how it is called, what its maps look like, which settings a
widget offers (`Option`) and how many passes one image costs (`passes`, read
by the one cost model in `kerasviz.core.cost`). Each metric says how it scores
one method's maps. `kerasviz.attribution.registry` loads these on first use.
"""

from __future__ import annotations

import numpy as np

from kerasviz.attribution.registry import Method, Metric, MetricInputs, Option
from kerasviz.core.cost import Work, layer_share

# Settings shared by several methods (a widget shows one control for each).
NOISE = Option("noise", 0.15, "float", 0.0, 0.5, 0.05)
SAMPLES = Option("samples", 16, "int", 2, 64, 1)
STEPS = Option("steps", 32, "int", 2, 256, 1, label="IG steps")
PATCH = Option(
    "patch", lambda side: max(2, side // 8), "int", lambda side: max(1, side // 32), lambda side: max(1, side // 2), 1
)
MASKS = Option("samples", 1000, "int", 100, 8000, 100, label="masks")
GRID = Option("grid_size", 7, "int", 2, 16, 1, label="grid")
SEGMENTS = Option("n_segments", 50, "int", 4, 200, 1, label="segments")
MAX_CHANNELS = Option(
    "max_channels",
    None,
    "choice",
    choices=(("all", None), ("16", 16), ("32", 32), ("64", 64), ("128", 128), ("256", 256)),
    label="channels",
)


def _lrp_rules() -> tuple:
    from kerasviz.lrp.composites import PRESETS

    rules = ["epsilon", "zero", "gamma", "alpha_beta", "zplus", "zb", "w_square", "flat"] + sorted(PRESETS)
    return tuple((r, r) for r in rules)


# ---- passes per image (core.cost.Work) -------------------------------------------------
def _cam_layer(model, options) -> tuple[str, int]:
    """The CAM layer's path and channel count (the `layer` option, else `default_cam_layer`)."""
    from kerasviz.attribution.gradcam import default_cam_layer
    from kerasviz.core.layers import find_layer, layer_path
    from kerasviz.core.layout import channels_axis

    layer = options.get("layer") or default_cam_layer(model)
    found = find_layer(model, layer)
    path = layer if isinstance(layer, str) else layer_path(model, found)
    return path, int(found.output.shape[channels_axis(model)])


def _gradients(count_of, what):
    return lambda model, size, o: Work("gradient", count_of(o), what(o))


def _score_cam(model, size, o) -> Work:
    path, channels = _cam_layer(model, o)
    k = channels if o.get("max_channels") is None else min(int(o["max_channels"]), channels)
    return Work("forward", k + 1, f"Score-CAM: {k} masked passes ({path})")


def _ablation_cam(model, size, o) -> Work:
    path, channels = _cam_layer(model, o)
    after = max(1.0 - layer_share(model, path), 0.05)  # each ablated copy runs the layers after the cut
    return Work("forward", channels * after + 1, f"Ablation-CAM: {channels} ablated channels after {path}")


def _occlusion(model, size, o) -> Work:
    from kerasviz.attribution.occlusion import window_starts

    patch = int(o["patch"])
    stride = int(o.get("stride") or max(1, patch // 2))
    windows = len(window_starts(size[0], patch, stride)) * len(window_starts(size[1], patch, stride))
    return Work("forward", windows + 1, f"occlusion: {windows:,} windows of {patch} px")


def _kernel_shap(model, size, o) -> Work:
    m = int(o.get("n_segments") or 50)  # SLIC gives about this many segments
    budget = int(o["samples"]) if o.get("samples") is not None else 2 * m + 2048
    coalitions = min(2 ** min(m, 40) - 2, budget)
    return Work("forward", coalitions + 2, f"KernelSHAP: {coalitions:,} coalitions of {m} segments")


def _sobol(model, size, o) -> Work:
    grid, designs = int(o["grid_size"]), int(o["designs"])
    return Work("forward", designs * (grid * grid + 2), f"Sobol: {designs} designs x {grid * grid + 2} masks")


def builtin_methods() -> list:
    """Every built-in attribution method, in the order widgets list them."""
    from kerasviz.attribution.blackbox import kernel_shap, lime, rise, sobol_attribution
    from kerasviz.attribution.cams import eigen_cam, hires_cam, layer_cam, xgrad_cam
    from kerasviz.attribution.gradcam import grad_cam, grad_cam_plus_plus, guided_grad_cam
    from kerasviz.attribution.gradient_stats import gradient_x_input, vargrad
    from kerasviz.attribution.integrated_gradients import integrated_gradients
    from kerasviz.attribution.occlusion import occlusion
    from kerasviz.attribution.relu_backprop import deconvnet, guided_backprop
    from kerasviz.attribution.saliency import gradient, saliency
    from kerasviz.attribution.score_cam import ablation_cam, score_cam
    from kerasviz.attribution.smoothgrad import smoothgrad
    from kerasviz.lrp.propagate import lrp

    cam = dict(signed=False, needs_layer=True, gradient_only=False, family="cam")
    box = dict(family="perturbation", black_box=True, seeded=True)
    samples = lambda o: o["samples"]
    return [
        Method("gradient", "gradient", gradient, signed=True, channels=True),
        Method("saliency", "saliency", saliency, signed=False),
        Method("gradient_x_input", "gradient × input", gradient_x_input, signed=True, channels=True),
        Method(
            "smoothgrad",
            "SmoothGrad",
            smoothgrad,
            signed=True,
            channels=True,
            seeded=True,
            options=(NOISE, SAMPLES),
            cost="samples forward + backward passes",
            passes=_gradients(samples, lambda o: f"SmoothGrad: {o['samples']} samples"),
        ),
        Method(
            "vargrad",
            "VarGrad",
            vargrad,
            signed=False,
            seeded=True,
            options=(NOISE, SAMPLES),
            cost="samples forward + backward passes",
            passes=_gradients(samples, lambda o: f"VarGrad: {o['samples']} samples"),
        ),
        Method(
            "integrated_gradients",
            "integrated gradients",
            integrated_gradients,
            signed=True,
            channels=True,
            result=lambda r: r.attributions,
            options=(STEPS,),
            cost="steps + 1 forward + backward passes",
            passes=_gradients(lambda o: o["steps"] + 1, lambda o: f"integrated gradients: {o['steps']} steps"),
        ),
        Method("guided_backprop", "guided backprop", guided_backprop, signed=True, gradient_only=False, channels=True),
        Method("deconvnet", "deconvnet", deconvnet, signed=True, gradient_only=False, channels=True),
        Method("grad_cam", "Grad-CAM", grad_cam, **cam),
        Method("grad_cam_plus_plus", "Grad-CAM++", grad_cam_plus_plus, **cam),
        Method(
            "guided_grad_cam",
            "guided Grad-CAM",
            guided_grad_cam,
            **{**cam, "signed": True},
            channels=True,
            cost="2 forward + backward passes",
            passes=_gradients(lambda o: 2, lambda o: "guided Grad-CAM"),
        ),
        Method("hires_cam", "HiResCAM", hires_cam, **cam),
        Method("xgrad_cam", "XGradCAM", xgrad_cam, **cam),
        Method("layer_cam", "LayerCAM", layer_cam, **cam),
        Method(
            "eigen_cam",
            "Eigen-CAM (class-agnostic)",
            eigen_cam,
            **cam,
            cost="1 forward pass",
            passes=lambda model, size, o: Work("forward", 1, "Eigen-CAM: one forward pass"),
        ),
        Method(
            "score_cam",
            "Score-CAM",
            score_cam,
            **cam,
            options=(MAX_CHANNELS,),
            cost="one forward pass per channel of the layer",
            passes=_score_cam,
        ),
        Method(
            "ablation_cam",
            "Ablation-CAM",
            ablation_cam,
            **cam,
            cost="channels x the layers after the cut",
            passes=_ablation_cam,
        ),
        Method(
            "occlusion",
            "occlusion",
            occlusion,
            signed=True,
            family="perturbation",
            black_box=True,
            options=(PATCH,),
            cost="one forward pass per window",
            passes=_occlusion,
        ),
        Method(
            "rise",
            "RISE",
            rise,
            signed=False,
            **box,
            options=(MASKS, GRID),
            cost="samples forward passes",
            passes=lambda model, size, o: Work("forward", o["samples"] + 1, f"RISE: {o['samples']:,} masks"),
        ),
        Method(
            "lime",
            "LIME",
            lime,
            signed=True,
            **box,
            options=(SEGMENTS, Option("samples", 500, "int", 50, 5000, 50)),
            cost="samples forward passes",
            passes=lambda model, size, o: Work("forward", o["samples"] + 1, f"LIME: {o['samples']:,} samples"),
        ),
        Method(
            "kernel_shap",
            "KernelSHAP",
            kernel_shap,
            signed=True,
            **box,
            options=(SEGMENTS, Option("samples", 1024, "int", 64, 8192, 64, label="coalitions")),
            cost="2^segments - 2 coalitions up to `samples` (default 2 x segments + 2048)",
            passes=_kernel_shap,
        ),
        Method(
            "sobol_attribution",
            "Sobol",
            sobol_attribution,
            signed=False,
            **box,
            options=(
                Option("grid_size", 8, "int", 2, 16, 1, label="grid"),
                Option("designs", 32, "choice", choices=tuple((str(d), d) for d in (8, 16, 32, 64, 128))),
            ),
            cost="designs x (grid_size^2 + 2) forward passes",
            passes=_sobol,
        ),
        Method(
            "lrp",
            "LRP",
            lrp,
            signed=True,
            gradient_only=False,
            channels=True,
            family="lrp",
            options=(Option("rule", "epsilon", "choice", choices=_lrp_rules()),),
            cost="about 2 forward + backward passes",
            passes=lambda model, size, o: Work("lrp", 2.0, f"LRP ({o['rule']})", unit="gradient"),
        ),
    ]


# ---- metrics ---------------------------------------------------------------------------
def _auc(insert: bool):
    def evaluate(i: MetricInputs, **options):
        from kerasviz.attribution.metrics import deletion_auc, insertion_auc

        fn = insertion_auc if insert else deletion_auc
        return fn(i.model, i.images, i.maps, i.target, **{"progress": False, **i.routed, **options})

    return evaluate


def _mu_fidelity(i: MetricInputs, **options):
    from kerasviz.attribution.faithfulness import mu_fidelity

    return mu_fidelity(
        i.model, i.images, i.maps, i.target, **{"seed": i.seed, "progress": False, **i.routed, **options}
    )


def _average(field_name: str):
    def evaluate(i: MetricInputs, **options):
        from kerasviz.attribution.faithfulness import average_drop

        result = average_drop(i.model, i.images, i.maps, i.target, **{**i.routed, **options})
        return np.asarray(getattr(result, field_name), np.float64)

    return evaluate


def _infidelity(i: MetricInputs, **options):
    from kerasviz.attribution.faithfulness import infidelity

    return infidelity(i.model, i.images, i.maps, i.target, **{"seed": i.seed, **i.routed, **options})


def _max_sensitivity(i: MetricInputs, **options):
    from kerasviz.attribution.faithfulness import max_sensitivity

    return max_sensitivity(i.model, i.images, i.method, i.target, **{"seed": i.seed, **i.routed, **options})


def _pointing_game(i: MetricInputs, **options):
    from kerasviz.attribution.pointing_game import pointing_game

    maps = i.maps if i.maps.ndim == 3 else i.maps.sum(-1)
    return pointing_game(maps, i.ground_truth, **options).hits


def builtin_metrics() -> list:
    """Every built-in metric, in the order `attribution_metrics` reports them."""
    from kerasviz.attribution.faithfulness import average_drop, infidelity, max_sensitivity, mu_fidelity
    from kerasviz.attribution.metrics import deletion_auc, insertion_auc
    from kerasviz.attribution.pointing_game import pointing_game

    return [
        Metric("deletion", "Deletion AUC", deletion_auc, False, "maps", _auc(False)),
        Metric("insertion", "Insertion AUC", insertion_auc, True, "maps", _auc(True)),
        Metric("mu_fidelity", "MuFidelity", mu_fidelity, True, "maps", _mu_fidelity),
        Metric("average_drop", "Average Drop", average_drop, False, "maps", _average("drop")),
        Metric("average_increase", "Average Increase", average_drop, True, "maps", _average("increase")),
        Metric("infidelity", "Infidelity", infidelity, False, "maps", _infidelity),
        Metric("max_sensitivity", "Max-sensitivity", max_sensitivity, False, "method", _max_sensitivity),
        Metric("pointing_game", "Pointing game", pointing_game, True, "ground_truth", _pointing_game),
    ]


__all__ = ["builtin_methods", "builtin_metrics"]
