"""Layer-wise relevance propagation as custom gradients in TensorFlow.

`kv.lrp(model, images, target, rule=...)` with rules LRP-0, ε, generalised γ,
αβ, z^B, w², flat (`kv.lrp_rules`) and composites (`kv.Composite`, presets per
model family: "vgg", "resnet", "mobilenet", "efficientnet", "convnext", ...;
`kv.composite_names()`). Plots: `kv.plot_lrp`, `kv.plot_relevance_flow`;
widget: `kv.widgets.LRPExplorer`. `kerasviz.lrp.layer_lrp` reads LRP at one
layer (its relevance there, and input relevance through chosen channels of
it): the mechanism of concept relevance (`kv.crp`, `kv.relevance_maximization`);
`kerasviz.lrp.relevance_layers` lists the layers it accepts.
"""

from kerasviz.core.errors import UnsupportedLayerError  # the shared class, re-exported for `kv.`
from kerasviz.lrp import rules as lrp_rules
from kerasviz.lrp.composites import Composite, composite_names
from kerasviz.lrp.conditional import LayerLRP, layer_lrp, relevance_layers
from kerasviz.lrp.layers import supported_layers
from kerasviz.lrp.propagate import Relevance, lrp
from kerasviz.plotting.lrp import plot_lrp, plot_relevance_flow, relevance_heatmap

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
