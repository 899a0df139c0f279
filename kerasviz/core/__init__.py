"""Model plumbing shared by every technique.

- `errors`, `validate`, `results`: the error classes, argument checkers and the
  result pattern every public function uses.
- `layers`: find a layer by name, index or "outer/inner" path in nested models;
  `find_spatial_layer` for techniques that need a feature map.
- `layout`: the model's `data_format` (`image_layout`, `channels_axis`), and
  the one refusal for techniques without a channels-first path
  (`require_channels_last`).
- `graph`: rebuild a model's graph on a fresh input, tapping or substituting
  layers (multi-output extractors, pre-activations, linear heads) without ever
  touching the user's model; repeated layer names, mixed precision and
  channels-first layouts handled there.
- `inputs`: the one image normaliser (`as_image_batch`).
- `outputs`: which output of a multi-output model is explained (`output=`).
- `targets`: one scalar score per sample from int / list / callable targets.
- `gradients`: the one compiled, chunked gradient routine.
- `cache`, `memory`: per-model caches (an LRU for user callables) and the
  check that one compiled call fits in memory.

Nothing here imports from the technique modules above it.
"""
