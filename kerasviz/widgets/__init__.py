"""ipywidgets front ends: controls wired to the pure plot functions.

Each family's widget lives in its own module here; import them from
`kerasviz.widgets`.
"""

from kerasviz.widgets.activations import ActivationExplorer, FilterExplorer
from kerasviz.widgets.attribution import AttributionExplorer
from kerasviz.widgets.base import ViewWidget
from kerasviz.widgets.budget import Cost
from kerasviz.widgets.concepts import AtlasView, CaricatureView, NMFView, TCAVView
from kerasviz.widgets.crp import CRPView
from kerasviz.widgets.dataset import DatasetExplorer, TopActivatingExplorer
from kerasviz.widgets.decoding import DecodingExplorer
from kerasviz.widgets.explorer import Explorer
from kerasviz.widgets.featurevis import FeatureVisExplorer
from kerasviz.widgets.lrp import LRPExplorer

__all__ = [
    "Explorer",
    "ActivationExplorer",
    "FilterExplorer",
    "AttributionExplorer",
    "DatasetExplorer",
    "TopActivatingExplorer",
    "DecodingExplorer",
    "FeatureVisExplorer",
    "LRPExplorer",
    "CRPView",
    "AtlasView",
    "CaricatureView",
    "NMFView",
    "TCAVView",
    "ViewWidget",
    "Cost",
]
