"""kerasviz: see what a convolutional network has learned (Keras 3, TensorFlow).

    import kerasviz as kv

The public names are listed in `__all__`, grouped as the README groups them; the technique
families live in packages (`kerasviz.attribution`, `kerasviz.decoding`, `kerasviz.dataset`,
`kerasviz.featurevis`, `kerasviz.relevance` (LRP), `kerasviz.concepts`) that list theirs.
"""

# ruff: noqa: E402  (the start-up lines below must run before TensorFlow and keras are imported)
import os as _os
import sys as _sys

from kerasviz import _tf_logs  # (no TensorFlow import)

_tf_logs.quiet_defaults()  # TF_CPP_MIN_LOG_LEVEL=2 unless set
from kerasviz import cli as _cli  # (no TensorFlow import)

_cli.precheck_command_line()  # as the `kerasviz` command: --help, usage and path errors end here, before TensorFlow
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_tf_logs.quiet_import()  # TensorFlow's start-up lines below that level are dropped
import keras as _keras

if _keras.backend.backend() != "tensorflow":
    raise ImportError(
        f"kerasviz needs Keras' TensorFlow backend; the active backend is {_keras.backend.backend()!r}. "
        "Set KERAS_BACKEND=tensorflow before importing keras."
    )

# Errors: every error a user can cause is a KerasvizError (also a ValueError or TypeError).
from kerasviz.core.errors import (
    ArgumentTypeError,
    DatasetUnavailableError,
    ImageReadError,
    InvalidArgumentError,
    KerasvizError,
    LayerNotFoundError,
    UnsupportedLayerError,
    UnsupportedModelError,
    WeightsUnavailableError,
)

# isort: split
# Models, photos and preprocessing.
from kerasviz.core.layers import conv_layers, find_layer
from kerasviz.loaders import load_mnist, load_vgg16
from kerasviz.models import lenet
from kerasviz.photos import sample_image
from kerasviz.preprocessing import deprocess, preprocess
from kerasviz.provenance import model_family, set_weights_label, weights_label

# isort: split
# Activations and filter weights.
from kerasviz.activation_maps import activations, blank_maps, feature_extractor, image_layers, token_grid
from kerasviz.plotting.activations import plot_activations, plot_channel
from kerasviz.plotting.filters import plot_filter_weights, plot_filters
from kerasviz.plotting.signals import plot_signal_activations, plot_signal_attribution
from kerasviz.weights import filter_roughness, filter_weights

# isort: split
# Figures and run settings.
from kerasviz._config import max_steps, quick_mode
from kerasviz.plotting.style import Style, current_style, style

# isort: split
# Filter decoding with substitution (Rafegas & Vanrell).
from kerasviz.decoding import (
    TrainedLeNet,
    character_net,
    class_max_matrix,
    decode_filters,
    decode_filters_transposed,
    decoded_response,
    decoding_error,
    deconvnet_projection,
    imresize_matrix,
    load_trained_lenet,
    plot_class_matrix,
    plot_decoded_filter,
    plot_decoded_filters,
    plot_deconvnet_comparison,
    plot_response_comparison,
    plot_top_images,
    thresholded,
    top_locations,
    train_lenet,
)

# isort: split
# Attribution maps and their metrics.
from kerasviz.attribution import (
    AverageDrop,
    IntegratedGradients,
    MetricsTable,
    PointingGame,
    RandomizationResult,
    SobolResult,
    SurrogateResult,
    ablation_cam,
    attribution_metrics,
    average_drop,
    deconvnet,
    default_cam_layer,
    deletion_auc,
    eigen_cam,
    grad_cam,
    grad_cam_plus_plus,
    gradient,
    gradient_x_input,
    guided_backprop,
    guided_grad_cam,
    hires_cam,
    infidelity,
    insertion_auc,
    integrated_gradients,
    kernel_shap,
    layer_cam,
    lime,
    max_sensitivity,
    mu_fidelity,
    normalize_map,
    occlusion,
    overlay_heatmap,
    plot_attribution,
    plot_attribution_grid,
    plot_metrics_table,
    plot_perturbation_curves,
    plot_randomization,
    pointing_game,
    randomization_check,
    rise,
    saliency,
    score_cam,
    smoothgrad,
    sobol_attribution,
    superpixels,
    vargrad,
    xgrad_cam,
)

# isort: split
# Dataset views.
from kerasviz.dataset import (
    ActivationSummary,
    DeadFilters,
    EmbeddingGrid,
    FilterPair,
    FilterSimilarity,
    NeuronFeatures,
    ReceptiveField,
    TopActivating,
    activation_summary,
    class_selectivity,
    dead_filters,
    embedding_grid,
    filter_similarity,
    grid_assignment,
    load_image_folder,
    neuron_feature,
    plot_dead_filters,
    plot_embedding_grid,
    plot_filter_similarity,
    plot_neuron_features,
    plot_top_activating,
    receptive_field,
    redundant_filters,
    top_activating,
)

# isort: split
# Feature visualization.
from kerasviz.featurevis import (
    Dream,
    FeatureImages,
    Inversion,
    Snapshot,
    architecture_defaults,
    deep_dream,
    estimate_seconds,
    invert,
    objectives,
    param,
    plot_dream,
    plot_filter_grid,
    plot_inversion,
    regularizers,
    render_objective,
    transforms,
    visualize_classes,
    visualize_filters,
)

# isort: split
# Layer-wise relevance propagation.
from kerasviz.relevance import (
    Composite,
    Relevance,
    composite_names,
    lrp,
    lrp_rules,
    plot_lrp,
    plot_relevance_flow,
    relevance_heatmap,
    supported_layers,
)

# isort: split
# Concepts.
from kerasviz.concepts import (
    CAV,
    TCAV,
    ActivationAtlas,
    Caricature,
    ConceptRelevance,
    NMFConcepts,
    TopRelevant,
    activation_atlas,
    caricature,
    cav,
    crp,
    nmf_concepts,
    plot_activation_atlas,
    plot_caricature,
    plot_crp,
    plot_nmf_concepts,
    plot_relevance_maximization,
    plot_tcav,
    relevance_maximization,
    tcav,
)

# isort: split
# The report, widgets and model checks.
from kerasviz import data, testing, widgets  # kv.data: the former module of loaders, photos, preprocessing
from kerasviz.featurevis.render import render  # deprecated name of render_objective
from kerasviz.report import inspect_report


def _version() -> str:
    """The installed distribution's version; read from pyproject.toml in a source tree never installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kerasviz")
    except PackageNotFoundError:
        import pathlib
        import re

        pyproject = pathlib.Path(__file__).resolve().parent.parent / "pyproject.toml"
        found = (
            re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"), re.M)
            if pyproject.is_file()
            else None
        )
        return found.group(1) if found else "0+unknown"


__version__ = _version()


# Former module paths, so that older imports keep working: `kerasviz.activations` (now
# `kerasviz.activation_maps`) and `kerasviz.lrp` (now `kerasviz.relevance`) were shadowed by the
# functions `kv.activations` and `kv.lrp`. The aliases live in sys.modules only.
def _alias_former_modules() -> None:
    import importlib
    import pkgutil

    from kerasviz import relevance

    _sys.modules.setdefault("kerasviz.activations", _sys.modules["kerasviz.activation_maps"])
    _sys.modules.setdefault("kerasviz.lrp", relevance)
    for info in pkgutil.iter_modules(relevance.__path__):
        _sys.modules.setdefault(f"kerasviz.lrp.{info.name}", importlib.import_module(f"kerasviz.relevance.{info.name}"))


_alias_former_modules()

# fmt: off
__all__ = [
    # Errors: every error a user can cause is a KerasvizError (also a ValueError or TypeError).
    "ArgumentTypeError", "DatasetUnavailableError", "ImageReadError", "InvalidArgumentError", "KerasvizError",
    "LayerNotFoundError", "UnsupportedLayerError", "UnsupportedModelError", "WeightsUnavailableError",
    # Models, photos and preprocessing.
    "load_mnist", "load_vgg16", "lenet", "sample_image", "deprocess", "preprocess", "model_family",
    "set_weights_label", "weights_label", "conv_layers", "find_layer",
    # Activations and filter weights.
    "activations", "blank_maps", "feature_extractor", "image_layers", "token_grid", "filter_roughness",
    "filter_weights", "plot_activations", "plot_channel", "plot_filter_weights", "plot_filters",
    "plot_signal_activations", "plot_signal_attribution",
    # Figures and run settings.
    "Style", "current_style", "style", "max_steps", "quick_mode",
    # Filter decoding with substitution (Rafegas & Vanrell).
    "decode_filters", "decoded_response", "decode_filters_transposed", "deconvnet_projection", "top_locations",
    "decoding_error", "class_max_matrix", "imresize_matrix", "character_net", "TrainedLeNet", "train_lenet",
    "load_trained_lenet", "plot_decoded_filter", "plot_decoded_filters", "plot_response_comparison",
    "plot_class_matrix", "plot_top_images", "plot_deconvnet_comparison", "thresholded",
    # Attribution maps and their metrics.
    "saliency", "gradient", "smoothgrad", "guided_backprop", "deconvnet", "integrated_gradients",
    "IntegratedGradients", "grad_cam", "grad_cam_plus_plus", "guided_grad_cam", "default_cam_layer", "occlusion",
    "deletion_auc", "insertion_auc", "randomization_check", "RandomizationResult", "plot_attribution",
    "plot_attribution_grid", "plot_randomization", "plot_perturbation_curves", "overlay_heatmap", "normalize_map",
    "score_cam", "ablation_cam", "hires_cam", "xgrad_cam", "layer_cam", "eigen_cam", "gradient_x_input", "vargrad",
    "rise", "lime", "kernel_shap", "superpixels", "SurrogateResult", "sobol_attribution", "SobolResult",
    "mu_fidelity", "average_drop", "AverageDrop", "pointing_game", "PointingGame", "infidelity", "max_sensitivity",
    "attribution_metrics", "MetricsTable", "plot_metrics_table",
    # Dataset views.
    "ActivationSummary", "DeadFilters", "EmbeddingGrid", "FilterPair", "FilterSimilarity", "NeuronFeatures",
    "ReceptiveField", "TopActivating", "activation_summary", "class_selectivity", "dead_filters", "embedding_grid",
    "filter_similarity", "grid_assignment", "load_image_folder", "neuron_feature", "plot_dead_filters",
    "plot_embedding_grid", "plot_filter_similarity", "plot_neuron_features", "plot_top_activating",
    "receptive_field", "redundant_filters", "top_activating",
    # Feature visualization.
    "Dream", "Inversion", "deep_dream", "invert", "FeatureImages", "Snapshot", "architecture_defaults",
    "estimate_seconds", "render_objective", "visualize_classes", "visualize_filters", "plot_dream",
    "plot_filter_grid", "plot_inversion", "objectives", "param", "regularizers", "transforms",
    # Layer-wise relevance propagation.
    "lrp", "Relevance", "Composite", "lrp_rules", "composite_names", "supported_layers", "plot_lrp",
    "plot_relevance_flow", "relevance_heatmap",
    # Concepts.
    "ActivationAtlas", "Caricature", "activation_atlas", "caricature", "CAV", "ConceptRelevance", "NMFConcepts",
    "TCAV", "TopRelevant", "cav", "crp", "nmf_concepts", "relevance_maximization", "tcav", "plot_activation_atlas",
    "plot_caricature", "plot_crp", "plot_nmf_concepts", "plot_relevance_maximization", "plot_tcav",
    # The report, widgets and model checks.
    "data", "testing", "widgets", "inspect_report", "render",
]
# fmt: on
