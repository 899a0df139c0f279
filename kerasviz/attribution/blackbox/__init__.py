"""Black-box attributions: they read only `model(x)` (no gradient, no layer).

- `rise`: random smooth masks (Petsiuk et al. 2018).
- `lime`, `kernel_shap`: linear surrogates on superpixels (Ribeiro et al.
  2016; Lundberg & Lee 2017); `superpixels` gives the SLIC segments.
- `sobol_attribution`: total-order Sobol indices of grid cells (Fel et al. 2021).
"""

from kerasviz.attribution.blackbox.rise import rise, rise_masks
from kerasviz.attribution.blackbox.segments import superpixels
from kerasviz.attribution.blackbox.sobol import SobolResult, sobol_attribution
from kerasviz.attribution.blackbox.surrogates import SurrogateResult, kernel_shap, lime

__all__ = [
    "rise",
    "rise_masks",
    "lime",
    "kernel_shap",
    "superpixels",
    "SurrogateResult",
    "sobol_attribution",
    "SobolResult",
]
