"""Model plumbing shared by every technique.

- `layers`: find a layer by name, index or "outer/inner" path in nested models.
- `graph`: rebuild a model's graph on a fresh input, tapping or substituting
  layers (multi-output extractors, pre-activations, linear heads) without ever
  touching the user's model.
- `inputs`: validate images against a model's input (shape, dtype, channels).
- `targets`: one scalar score per sample from int / list / callable targets.
- `gradients`: the one compiled, chunked gradient routine.

Nothing here imports from the technique modules above it.
"""
