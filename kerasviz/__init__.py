"""kerasviz: see what a convolutional network has learned (Keras 3, TensorFlow).

    import kerasviz as kv

The public names are listed in `__all__`; see the README for a tour.
"""

import os as _os

from kerasviz import _tf_logs  # noqa: E402  (no TensorFlow import)

_tf_logs.quiet_defaults()  # TF_CPP_MIN_LOG_LEVEL=2 unless set
from kerasviz import cli as _cli  # noqa: E402  (no TensorFlow import)

_cli.precheck_command_line()  # as the `kerasviz` command: --help, usage and path errors end here, before TensorFlow
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_tf_logs.quiet_import()  # TensorFlow's start-up lines below that level are dropped
import keras as _keras  # noqa: E402

if _keras.backend.backend() != "tensorflow":
    raise ImportError(
        f"kerasviz needs Keras' TensorFlow backend; the active backend is {_keras.backend.backend()!r}. "
        "Set KERAS_BACKEND=tensorflow before importing keras."
    )

from kerasviz import (  # noqa: E402,F401  (kv.testing.unchanged for users checking their own code)
    data,  # noqa: E402,F401  (kv.data.X: the former module, re-exporting the names above)
    testing,
    widgets,
)
from kerasviz._config import max_steps, quick_mode  # noqa: E402
from kerasviz.activations import (  # noqa: E402
    ActivationSummary,
    activation_summary,
    activations,
    blank_maps,
    feature_extractor,
    image_layers,
    token_grid,
)

# Technique families: each package lists its public names in __all__.
from kerasviz.attribution import *  # noqa: E402,F401,F403
from kerasviz.concepts import *  # noqa: E402,F401,F403
from kerasviz.core.errors import (  # noqa: E402
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
from kerasviz.core.layers import conv_layers, find_layer  # noqa: E402
from kerasviz.dataset import *  # noqa: E402,F401,F403
from kerasviz.decoding import *  # noqa: E402,F401,F403
from kerasviz.featurevis import *  # noqa: E402,F401,F403
from kerasviz.featurevis.render import render  # noqa: E402,F401  (deprecated name of kv.render_objective)
from kerasviz.loaders import load_mnist, load_vgg16  # noqa: E402
from kerasviz.lrp import *  # noqa: E402,F401,F403
from kerasviz.models import lenet  # noqa: E402
from kerasviz.photos import sample_image  # noqa: E402
from kerasviz.plotting.activations import plot_activations, plot_channel, plot_filter_weights, plot_filters  # noqa: E402
from kerasviz.plotting.signals import plot_signal_activations, plot_signal_attribution  # noqa: E402
from kerasviz.plotting.style import Style, current_style, style  # noqa: E402
from kerasviz.preprocessing import deprocess, preprocess  # noqa: E402
from kerasviz.provenance import model_family, set_weights_label, weights_label  # noqa: E402
from kerasviz.report import inspect_report  # noqa: E402,F401
from kerasviz.weights import filter_roughness, filter_weights  # noqa: E402

__version__ = "0.1.0"
