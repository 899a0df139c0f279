"""The modules that replaced data.py: old names keep working, the untrained VGG16 is seeded, files are read well."""

import random

import numpy as np
import pytest
from _checks import assert_clear_error, global_state_unchanged

import kerasviz as kv
from kerasviz import data, imagefiles, loaders, photos, preprocessing, provenance


def test_every_old_name_still_imports_from_kerasviz_data():
    old = [
        "DOWNLOAD_TIMEOUT",
        "IMAGE_EXTENSIONS",
        "MNIST_ENV",
        "VGG16_WEIGHTS_ENV",
        "deprocess",
        "fit_image",
        "image_files",
        "load_mnist",
        "load_vgg16",
        "model_family",
        "preprocess",
        "read_photo",
        "sample_image",
        "set_weights_label",
        "takes_bgr",
        "weights_label",
        "ImageReadError",
        "DatasetUnavailableError",
        "WeightsUnavailableError",
        "_download_timeout",
        "_SAMPLES",
        "_CAFFE_MEAN_BGR",
        "_TORCH_MEAN",
        "_TORCH_STD",
        "_mode",
        "_FAMILY_MODE",
        "_load_npz",
        "_to_uint8",
        "_one_line",
        "_is_download_failure",
    ]
    assert [name for name in old if not hasattr(data, name)] == []
    assert data.load_vgg16 is loaders.load_vgg16 is kv.load_vgg16
    assert data._SAMPLES is photos.SAMPLE_PHOTOS and data._mode is preprocessing.preprocessing_mode
    assert kv.weights_label is provenance.weights_label and kv.sample_image is photos.sample_image


def test_untrained_vgg16_is_the_same_network_everywhere():
    with global_state_unchanged():
        a = kv.load_vgg16(weights=None, include_top=False, input_shape=(32, 32, 3))
        b = kv.load_vgg16(weights=None, include_top=False, input_shape=(32, 32, 3))
    c = kv.load_vgg16(weights=None, include_top=False, input_shape=(32, 32, 3), seed=1)
    for wa, wb, wc in zip(a.weights, b.weights, c.weights):
        np.testing.assert_array_equal(wa.numpy(), wb.numpy())
    kernels = [(wa.numpy(), wc.numpy()) for wa, wc in zip(a.weights, c.weights) if wa.ndim == 4]
    assert all(not np.array_equal(x, y) for x, y in kernels)
    first = a.weights[0].numpy()  # still Glorot-uniform: bound sqrt(6 / (fan_in + fan_out)) = sqrt(6 / (27 + 576))
    bound = np.sqrt(6 / (3 * 3 * 3 + 3 * 3 * 64))
    assert np.abs(first).max() <= bound and np.abs(first).max() > 0.95 * bound
    assert kv.weights_label(a) == "untrained (random weights)" and kv.model_family(a) == "vgg16"


def test_unknown_names_say_what_is_known():
    assert_clear_error(lambda: kv.sample_image("dog"), "name", match="Unknown sample image")
    assert_clear_error(lambda: kv.preprocess(np.zeros((2, 2, 3)), "alexnet"), "family", match="Unknown model family")


@pytest.mark.parametrize(
    "content, says",
    [
        (b"", "the file is empty (0 bytes)"),
        (
            b"hello, this is a text file",
            "it is a text file, not an image (it starts with 'hello, this is a text file')",
        ),
        (bytes(range(200, 256)) * 2, "not in an image format Pillow can decode (it starts with bytes c8 c9"),
    ],
)
def test_a_file_that_is_not_an_image_says_what_it_is(tmp_path, content, says):
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    error = assert_clear_error(lambda: imagefiles.read_photo(str(path)), str(path))
    assert says in str(error) and "plugin" not in str(error)


def test_truncated_image_data_is_named(tmp_path):
    from PIL import Image

    path = tmp_path / "cut.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:300])
    imagefiles.check_image_file(str(path))  # the header alone is fine
    assert_clear_error(lambda: imagefiles.read_photo(str(path)), str(path), match="damaged or truncated")


def test_modes_become_uint8_rgb(tmp_path):
    from PIL import Image

    grey16 = np.arange(40 * 30, dtype=np.uint16).reshape(40, 30) * 50
    Image.fromarray(grey16).save(tmp_path / "g16.png")
    Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16)).convert("P").save(tmp_path / "pal.png")
    Image.fromarray(np.full((5, 6, 4), 200, np.uint8), "RGBA").save(tmp_path / "rgba.png")
    g16 = imagefiles.read_photo(str(tmp_path / "g16.png"))
    assert g16.shape == (40, 30, 3) and g16.dtype == np.uint8
    np.testing.assert_allclose(g16[..., 0], np.round(grey16 * 255.0 / 65535), atol=1)
    assert imagefiles.read_photo(str(tmp_path / "pal.png")).shape == (16, 16, 3)
    assert (imagefiles.read_photo(str(tmp_path / "rgba.png")) == 200).all()


def test_large_photos_shrink_while_decoding_and_fit_like_small_ones(tmp_path):
    """A 3000 x 2100 JPEG decodes at half scale (short side still >= 1024); fitting a huge array is box-averaged first."""
    from PIL import Image

    h, w = 2100, 3000
    gradient = np.empty((h, w, 3), np.uint8)
    gradient[..., 0] = (np.arange(w) * 255 // (w - 1))[None, :]
    gradient[..., 1] = (np.arange(h) * 255 // (h - 1))[:, None]
    gradient[..., 2] = 128
    Image.fromarray(gradient).save(tmp_path / "big.jpg", quality=90)
    photo = imagefiles.read_photo(str(tmp_path / "big.jpg"))
    assert photo.shape == (h // 2, w // 2, 3)
    assert imagefiles.read_photo(str(tmp_path / "big.jpg"), min_side=None).shape == (h, w, 3)
    small = photos.fit_image(gradient, 48)  # box-reduced by 10, then resized
    left = (w - h) // 2
    expected = photos.fit_image(
        np.ascontiguousarray(gradient[:, left : left + h][::21, ::21]), 48
    )  # the same crop, subsampled
    assert np.abs(small.astype(int) - expected.astype(int)).max() <= 3


def test_image_folder_and_limits(tmp_path):
    from PIL import Image

    (tmp_path / "sub").mkdir()
    for name in ("b.png", "a.png", "sub/c.png"):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("ignored")
    images, names = imagefiles.read_photos([str(tmp_path)], limit=2)
    assert names == ["a.png", "b.png"] and len(images) == 2
    assert_clear_error(lambda: imagefiles.read_photos([str(tmp_path / "missing")]), "missing")


def test_mnist_availability_says_where_from(tmp_path, monkeypatch):
    digits = tmp_path / "d.npz"
    np.savez(digits, x=np.zeros((20, 28, 28), np.uint8), y=np.arange(20) % 10)
    loaders.mnist_availability.cache_clear()
    monkeypatch.setenv("KERASVIZ_MNIST", str(digits))
    assert loaders.mnist_availability() == (True, f"$KERASVIZ_MNIST={digits}")
    loaders.mnist_availability.cache_clear()
    monkeypatch.setenv("KERASVIZ_MNIST", str(tmp_path / "none.npz"))
    available, why = loaders.mnist_availability()
    assert not available and "is not a file" in why
    loaders.mnist_availability.cache_clear()
    monkeypatch.delenv("KERASVIZ_MNIST")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(loaders, "can_download", lambda url, timeout=5.0: (False, "OSError: no network"))
    available, why = loaders.mnist_availability()
    assert not available and "no network" in why and "KERASVIZ_MNIST" in why
    loaders.mnist_availability.cache_clear()


def test_python_random_state_is_left_as_found():
    state = random.getstate()
    kv.load_vgg16(weights=None, include_top=False, input_shape=(32, 32, 3), seed=None)
    assert random.getstate() == state
