"""Per-model cache of derived models and compiled functions.

Rebuilding a graph and tracing a `tf.function` cost far more than running
them, and a notebook calls the same technique on the same model many times, so
each model (weakly keyed: the cache never keeps a model alive) has a dict of
derived objects. Entries whose key holds a user callable (a lambda target, a
custom score) would otherwise pile up: a notebook cell that defines its lambda
anew on every run makes a new key, and each entry keeps a compiled step and the
lambda alive for the model's lifetime. Those entries live in a small
least-recently-used table per model instead (`callable_entries`, 8 by default).
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable

import keras

CALLABLE_ENTRIES = 8


def holds_callable(key) -> bool:
    """True if a cache key (nested tuples) holds a user callable (a function, lambda or callable object).

    Layers, models and classes are part of the model or the library, not user callables.
    """
    if isinstance(key, (tuple, list, frozenset)):
        return any(holds_callable(k) for k in key)
    if isinstance(key, (str, bytes, int, float, type, keras.layers.Layer)) or key is None:
        return False
    return callable(key)


class ModelCache:
    """Per-model cache (weakly keyed); entries keyed by user callables are kept in a small LRU.

    Args:
        callable_entries: how many callable-keyed entries each model keeps.
    """

    def __init__(self, callable_entries: int = CALLABLE_ENTRIES):
        self._store: weakref.WeakKeyDictionary[keras.Model, tuple[dict, OrderedDict]] = weakref.WeakKeyDictionary()
        self.callable_entries = callable_entries

    def get(self, model, key, build: Callable[[], object]):
        """The entry `key` of `model`, built by `build()` on first use."""
        fixed, recent = self._store.setdefault(model, ({}, OrderedDict()))
        if not holds_callable(key):
            if key not in fixed:
                fixed[key] = build()
            return fixed[key]
        if key in recent:
            recent.move_to_end(key)
            return recent[key]
        value = build()
        recent[key] = value
        while len(recent) > self.callable_entries:
            recent.popitem(last=False)
        return value

    def entries(self, model) -> int:
        """How many entries `model` holds (both tables)."""
        fixed, recent = self._store.get(model, ({}, OrderedDict()))
        return len(fixed) + len(recent)

    def clear(self, model=None) -> None:
        """Drop the entries of `model` (or of every model)."""
        if model is None:
            self._store.clear()
        else:
            self._store.pop(model, None)


cache = ModelCache()
