"""A self-contained HTML report on a model and a few photos (`kerasviz inspect`).

- `page`: the HTML page (inline CSS, figures as base64 PNG data URIs).
- `sections`: one function per section, over the public techniques and plots.
- `featurevis_plan`: filter maximization in low-resolution octaves, the full size last.
- `build`: `inspect_report`, which checks the arguments, runs the sections and writes the file.

Photos are read by `kerasviz.imagefiles` and fitted by `kerasviz.photos`.
"""

from kerasviz.core.errors import ImageReadError
from kerasviz.imagefiles import read_photos
from kerasviz.report.build import inspect_report, prepare_inputs

__all__ = ["inspect_report", "prepare_inputs", "read_photos", "ImageReadError"]
