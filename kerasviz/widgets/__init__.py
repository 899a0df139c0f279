"""ipywidgets front ends: controls wired to the pure plot functions.

Each family's widget lives in its own module here; import them from
`kerasviz.widgets`.
"""

from kerasviz.widgets.activations import ActivationExplorer, FilterExplorer  # noqa: E402,F401
from kerasviz.widgets.attribution import AttributionExplorer  # noqa: E402,F401
from kerasviz.widgets.base import ViewWidget  # noqa: E402,F401
from kerasviz.widgets.budget import Cost  # noqa: E402,F401
from kerasviz.widgets.concepts import AtlasView, CaricatureView, NMFView, TCAVView  # noqa: E402,F401
from kerasviz.widgets.crp import CRPView  # noqa: E402,F401
from kerasviz.widgets.dataset import DatasetExplorer, TopActivatingExplorer  # noqa: E402,F401
from kerasviz.widgets.decoding import DecodingExplorer  # noqa: E402,F401
from kerasviz.widgets.explorer import Explorer  # noqa: E402,F401
from kerasviz.widgets.featurevis import FeatureVisExplorer  # noqa: E402,F401
from kerasviz.widgets.lrp import LRPExplorer  # noqa: E402,F401
