"""Filter decoding with substitution (Rafegas & Vanrell 2015, arXiv:1511.05084).

`decode_filters` brings every filter of a conv layer down to image space;
`decoded_response` correlates images with them on the layer's grid; the
baselines (transposed-filter readings, Zeiler & Fergus deconvnet) and the
MatConvNet LeNet training recipe sit beside them.
"""

from kerasviz.decoding.baselines import decode_filters_transposed, deconvnet_projection
from kerasviz.decoding.characters import character_net
from kerasviz.decoding.response import class_max_matrix, decoded_response, decoding_error, top_locations
from kerasviz.decoding.substitution import decode_filters
from kerasviz.decoding.train import TrainedLeNet, load_trained_lenet, train_lenet
from kerasviz.decoding.unpool import imresize_matrix

__all__: list[str] = [
    "decode_filters",
    "decoded_response",
    "decode_filters_transposed",
    "deconvnet_projection",
    "top_locations",
    "decoding_error",
    "class_max_matrix",
    "imresize_matrix",
    "character_net",
    "TrainedLeNet",
    "train_lenet",
    "load_trained_lenet",
]

from kerasviz.plotting.decoding import (  # noqa: E402  (figures re-exported for kv.*)
    plot_class_matrix,
    plot_decoded_filter,
    plot_decoded_filters,
    plot_deconvnet_comparison,
    plot_response_comparison,
    plot_top_images,
    thresholded,
)

__all__ += [
    "plot_decoded_filter",
    "plot_decoded_filters",
    "plot_response_comparison",
    "plot_class_matrix",
    "plot_top_images",
    "plot_deconvnet_comparison",
    "thresholded",
]
