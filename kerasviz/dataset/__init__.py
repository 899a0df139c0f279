"""Dataset views: top-k images and patches, Neuron Features, dead/redundant filters, embeddings, summaries.

One module per view over one data adapter (`streaming.data_source`), one
argument convention (`arguments`: `fn(model, layer, data=None, *, ...)`) and
the receptive-field utilities (`receptive_field`, `field_measure`); the plot
functions are re-exported here so that `kv.<name>` reaches them.
"""

from kerasviz.dataset.embedding import EmbeddingGrid, embedding_grid, grid_assignment
from kerasviz.dataset.filters_health import (
    DeadFilters,
    FilterPair,
    FilterSimilarity,
    dead_filters,
    filter_similarity,
    redundant_filters,
)
from kerasviz.dataset.folder import load_image_folder
from kerasviz.dataset.neuron_feature import NeuronFeatures, class_selectivity, neuron_feature
from kerasviz.dataset.receptive_field import ReceptiveField, receptive_field
from kerasviz.dataset.summary import ActivationSummary, activation_summary
from kerasviz.dataset.topk import TopActivating, top_activating
from kerasviz.plotting.dataset import (
    plot_dead_filters,
    plot_embedding_grid,
    plot_filter_similarity,
    plot_neuron_features,
    plot_top_activating,
)

__all__ = [
    "ActivationSummary",
    "DeadFilters",
    "EmbeddingGrid",
    "FilterPair",
    "FilterSimilarity",
    "NeuronFeatures",
    "ReceptiveField",
    "TopActivating",
    "activation_summary",
    "class_selectivity",
    "dead_filters",
    "embedding_grid",
    "filter_similarity",
    "grid_assignment",
    "load_image_folder",
    "neuron_feature",
    "plot_dead_filters",
    "plot_embedding_grid",
    "plot_filter_similarity",
    "plot_neuron_features",
    "plot_top_activating",
    "receptive_field",
    "redundant_filters",
    "top_activating",
]
