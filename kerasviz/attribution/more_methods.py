"""Deprecated view of the attribution registry as plain dicts (use `kerasviz.attribution.registry`).

`METHODS[name]` gives `function`, `label`, `signed`, `needs_layer`,
`black_box`, `seeded`, `cost` (in words) and `options` (the widget settings and
their defaults) for every registered method; `METRICS[name]` gives
`function`, `label`, `higher_is_better` and `needs` for every registered
metric. Both are read from the one registry when this module is imported.
"""

from __future__ import annotations

from kerasviz.attribution.registry import methods as _methods
from kerasviz.attribution.registry import metrics as _metrics

METHODS = {
    name: dict(
        function=m.function,
        label=m.label,
        signed=m.signed,
        needs_layer=m.needs_layer,
        black_box=m.black_box,
        seeded=m.seeded,
        cost=m.cost,
        options={o.name: o.default for o in m.options if not callable(o.default)},
    )
    for name, m in _methods().items()
}

METRICS = {
    name: dict(function=m.function, label=m.label, higher_is_better=m.higher_is_better, needs=m.needs)
    for name, m in _metrics().items()
}
