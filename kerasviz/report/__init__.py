"""A self-contained HTML report on a model and a few photos (`kerasviz inspect`).

- `photos`: read image files and folders, fit them to a model's input.
- `page`: the HTML page (inline CSS, figures as base64 PNG data URIs).
- `sections`: one function per section, over the public techniques and plots.
- `build`: `inspect_report`, which runs the sections and writes the file.
"""
from kerasviz.report.build import inspect_report, prepare_inputs
from kerasviz.report.photos import ImageReadError, read_photos

__all__ = ["inspect_report", "prepare_inputs", "read_photos", "ImageReadError"]
