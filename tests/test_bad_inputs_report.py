"""`kv.inspect_report` on bad input: a clear kerasviz error naming the argument, before any section runs.

One row per bad-input class; every row also checks that no file is written
and that global state is unchanged (through `assert_clear_error`).
"""

import numpy as np
import pytest
from _checks import assert_clear_error

import kerasviz as kv
from kerasviz.testing import nested_model

PHOTOS = [np.random.default_rng(i).integers(0, 256, (20, 24, 3), dtype=np.uint8) for i in range(2)]


@pytest.fixture(scope="module")
def model():
    return nested_model(sequential=False)


ROWS = {  # name: (keyword arguments replacing the defaults, the argument the message must name, a regex it must match)
    "NaN photo": (dict(images=[np.full((8, 8, 3), np.nan, np.float32)]), "images", "NaN"),
    "Inf in a batch": (
        dict(images=np.stack([np.zeros((8, 8, 3)), np.full((8, 8, 3), np.inf)])),
        "images",
        "NaN or Inf",
    ),
    "preprocessed input instead of photos": (dict(images=[np.full((8, 8, 3), -100.0)]), "images", "preprocess"),
    "wrong photo shape": (dict(images=[np.zeros((8, 8, 5), np.uint8)]), "images", r"\(H, W, 3\)"),
    "text instead of photos": (dict(images="cat.jpg"), "images", None),
    "no photos": (dict(images=[]), "images", "empty"),
    "names of the wrong length": (dict(names=["only one"]), "names", "1 names for 2 images"),
    "class names of the wrong length": (dict(class_names=["a", "b"]), "class_names", "4 outputs"),
    "layer given as a float": (dict(layers=[1.5]), "layers", "float"),
    "layer list empty": (dict(layers=[]), "layers", None),
    "layer without feature maps (Dense)": (dict(layers=["outer_head"]), "layers", "Dense"),
    "unknown layer": (dict(layers=["conv9"]), "conv9", None),
    "layer index out of range": (dict(layers=[99]), "99", None),
    "zero filters": (dict(filters=0), "filters", None),
    "steps as a float": (dict(steps=2.5), "steps", None),
    "path is a folder": (dict(path="{tmp}"), "path", "folder"),
    "unknown precision": (dict(precision="float16"), "precision", None),
}


@pytest.mark.parametrize("name", sorted(ROWS))
def test_bad_input_gives_a_clear_error(name, model, tmp_path):
    given, argument, match = ROWS[name]
    kwargs = dict(images=PHOTOS, path=str(tmp_path / "r.html"), quick=True, progress=False)
    kwargs.update({k: (v.format(tmp=tmp_path) if isinstance(v, str) and k == "path" else v) for k, v in given.items()})
    assert_clear_error(lambda: kv.inspect_report(model, **kwargs), argument, match=match)
    assert not (tmp_path / "r.html").exists()


def test_layers_by_index_and_layer_object_name_the_same_layers(model):
    """Indices and Layer objects are resolved to the layer's path, nested layers included."""
    from kerasviz.core.layers import child_layers
    from kerasviz.report.build import resolve_layers

    base = model.get_layer("base")
    conv = [layer for layer in base.layers if "conv" in layer.name][-1]
    by_object = resolve_layers(model, [conv])
    by_name = resolve_layers(model, [conv.name])
    assert by_object == (f"base/{conv.name}",) and by_name == (conv.name,)
    index = [i for i, layer in enumerate(child_layers(model)) if layer is base][0]  # input layers excluded
    assert resolve_layers(model, index) == ("base",)


def test_cli_checks_vgg16_layer_names_before_building_it():
    import keras

    from kerasviz.cli_checks import VGG16_LAYERS, CommandError, check_layer_names

    built = keras.applications.VGG16(weights=None)
    assert VGG16_LAYERS == {layer.name for layer in built.layers[1:]}  # every layer but the input
    check_layer_names("vgg16", ["block5_conv3", "fc1"])
    with pytest.raises(CommandError, match="No layer 'block5_conv9' in VGG16.*Closest"):
        check_layer_names("vgg16", ["block5_conv9"])
