"""Filter decoding with substitution, Rafegas & Vanrell (issue 3).

`decode_filters` brings every filter of a conv layer down to image space;
`decoded_response` correlates images with them on the layer's grid; the
baselines (transposed-filter readings, Zeiler & Fergus deconvnet) and the
MatConvNet LeNet training recipe sit beside them.
"""
from kerasviz.decoding.baselines import decode_filters_transposed, deconvnet_projection
from kerasviz.decoding.response import decoded_response, top_locations
from kerasviz.decoding.substitution import decode_filters
from kerasviz.decoding.train import TrainedLeNet, load_trained_lenet, train_lenet
from kerasviz.decoding.unpool import imresize_matrix

__all__: list[str] = [
    "decode_filters",
    "decoded_response",
    "decode_filters_transposed",
    "deconvnet_projection",
    "top_locations",
    "imresize_matrix",
    "TrainedLeNet",
    "train_lenet",
    "load_trained_lenet",
]
