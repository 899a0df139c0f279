"""Griffe extension for the API reference: a Keras-style "Example:" section renders as code.

Google-style parsing turns "Examples:" into doctest code blocks but "Example:" (Keras' spelling,
used by kerasviz's docstrings) into a plain admonition; this renames the section before parsing.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and "Example:" in obj.docstring.value:
            obj.docstring.value = _EXAMPLE.sub(r"\1Examples:", obj.docstring.value)
