"""Layer-wise relevance propagation as custom gradients in TensorFlow.

`kv.lrp(model, images, target, rule=...)` with rules LRP-0, ε, generalised γ,
αβ, z^B, w², flat (`kv.lrp_rules`) and composites (`kv.Composite`, presets per
model family: "vgg", "resnet", "mobilenet", "efficientnet", "convnext", ...;
`kv.composite_names()`). Plots: `kv.plot_lrp`, `kv.plot_relevance_flow`;
widget: `kv.widgets.LRPExplorer`. `kerasviz.relevance.layer_lrp` reads LRP at one
layer (its relevance there, and input relevance through chosen channels of
it): the mechanism of concept relevance (`kv.crp`, `kv.relevance_maximization`);
`kerasviz.relevance.relevance_layers` lists the layers it accepts.
"""

from kerasviz.core.errors import UnsupportedLayerError  # the shared class, re-exported for `kv.`
from kerasviz.plotting.lrp import plot_lrp, plot_relevance_flow, relevance_heatmap
from kerasviz.relevance import rules as lrp_rules
from kerasviz.relevance.composites import Composite, composite_names

# Reached as kerasviz.relevance.X (not part of the kv. namespace): the mechanism concept relevance builds on.
from kerasviz.relevance.conditional import LayerLRP as LayerLRP
from kerasviz.relevance.conditional import layer_lrp as layer_lrp
from kerasviz.relevance.conditional import relevance_layers as relevance_layers
from kerasviz.relevance.layers import supported_layers
from kerasviz.relevance.propagate import Relevance, lrp

__all__: list[str] = [
    "lrp",
    "Relevance",
    "Composite",
    "lrp_rules",
    "composite_names",
    "supported_layers",
    "UnsupportedLayerError",
    "plot_lrp",
    "plot_relevance_flow",
    "relevance_heatmap",
]
