"""Checks of the `kerasviz` command's arguments that need no TensorFlow: paths, files, class names.

Each check raises `CommandError` with one line that says what is wrong with
the path or file (not what a library failed to do with it); the command
runs them before TensorFlow loads, and `inspect_report` shares the output
path check.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence

MODEL_NAMES = ("vgg16", "lenet")
MODEL_EXTENSIONS = (".keras", ".h5", ".hdf5")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


class CommandError(Exception):
    """A problem the user can fix; printed as one line."""


def one_line(err: BaseException) -> str:
    """An exception's message on one line."""
    return " ".join(str(err).split())


def output_path_problem(path: str) -> str | None:
    """What stops a report from being written to `path` (None if nothing): checked before any work.

    The path must not be a folder, its folder must exist or be creatable, and
    the file (or the nearest existing folder) must be writable.
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        return f"the output path must be a file name such as report.html; got {path!r}"
    path = os.fspath(path)
    full = os.path.abspath(path)
    if os.path.isdir(full):
        return (
            f"output path {path!r} is a folder; give a file name such as {os.path.join(path, 'kerasviz-report.html')}"
        )
    if os.path.exists(full) and not os.access(full, os.W_OK):
        return f"output file {path!r} exists and is not writable"
    folder = os.path.dirname(full)
    existing = folder
    while not os.path.exists(existing):  # the nearest existing ancestor must be a writable folder
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        return f"cannot create the folder of output path {path!r}: {existing!r} is a file"
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "folder" if existing == folder else "nearest existing folder"
        return f"cannot write output path {path!r}: the {what} {existing!r} is not writable"
    return None


def check_output_path(path: str) -> str:
    """`path` if a report can be written there, else CommandError saying why."""
    problem = output_path_problem(path)
    if problem:
        raise CommandError(problem)
    return path


def _describe_bytes(path: str) -> str:
    from kerasviz.imagefiles import describe_non_image

    return (
        describe_non_image(path)
        .replace(" not an image", " not a model")
        .replace("an image format Pillow can decode", "a model format")
    )


def check_model_file(path: str) -> None:
    """Say what is wrong with a model file before Keras reads it (Keras' own errors name the wrong thing)."""
    if os.path.isdir(path):
        raise CommandError(
            f"model path {path!r} is a folder (a TensorFlow SavedModel?); save the Keras model as one "
            "file with model.save('model.keras')"
        )
    if not os.path.isfile(path):
        raise CommandError(f"model file {path!r} does not exist")
    if not path.lower().endswith(MODEL_EXTENSIONS):
        raise CommandError(f"unsupported model file {path!r}: expected a Keras model saved as .keras (or legacy .h5)")
    if os.path.getsize(path) == 0:
        raise CommandError(
            f"model file {path!r} is empty (0 bytes): the save did not complete; save it again "
            "with model.save('model.keras')"
        )
    if path.lower().endswith(".keras"):
        if not zipfile.is_zipfile(path):
            raise CommandError(
                f"model file {path!r} is not a Keras model archive (a .keras file is the zip archive "
                f"model.save() writes): {_describe_bytes(path)}"
            )
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
                damaged = archive.testzip()
        except (zipfile.BadZipFile, OSError) as err:
            raise CommandError(f"model file {path!r} is a damaged zip archive ({one_line(err)})") from None
        if damaged:
            raise CommandError(
                f"model file {path!r} is a damaged archive: {damaged!r} fails its checksum (truncated copy?)"
            )
        missing = [n for n in ("config.json", "model.weights.h5") if n not in names]
        if missing:
            raise CommandError(
                f"model file {path!r} is a zip archive without {' and '.join(missing)}: not a model "
                "written by model.save('model.keras')"
            )
    else:
        with open(path, "rb") as file:
            head = file.read(8)
        if head != HDF5_SIGNATURE:
            raise CommandError(
                f"model file {path!r} is not an HDF5 file (legacy .h5 models are HDF5): {_describe_bytes(path)}"
            )


def _config_layer_names(config) -> set:
    """Every layer name in a saved model config, nested models included."""
    names = set()
    if isinstance(config, dict):
        inner = config.get("config")
        kind = config.get("class_name")
        if isinstance(inner, dict) and isinstance(kind, str) and not kind.endswith("Policy") and "name" in inner:
            names.add(inner["name"])
        for value in config.values():
            names |= _config_layer_names(value)
    elif isinstance(config, list):
        for value in config:
            names |= _config_layer_names(value)
    return names


def layer_names_in_archive(path: str) -> set | None:
    """The layer names recorded in a .keras archive's config.json (None if they cannot be read)."""
    import json

    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except Exception:  # not a readable archive: check_model_file reports it
        return None
    return _config_layer_names(config)


# Layer names of the built-in VGG16 (keras.applications, with its classifier): --layers is checked
# against them before TensorFlow loads. tests/test_bad_inputs_report.py compares them with the model.
VGG16_LAYERS = frozenset(
    [f"block{b}_conv{c}" for b, n in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)) for c in range(1, n + 1)]
    + [f"block{b}_pool" for b in range(1, 6)]
    + ["flatten", "fc1", "fc2", "predictions"]
)


def check_layer_names(spec: str, layers: Sequence[str] | None) -> None:
    """Unknown --layers names of a .keras file (found in its config) or of VGG16, without building the model."""
    if not layers:
        return
    if spec.lower() == "vgg16" and not os.path.exists(spec):
        names: set[str] | None = set(VGG16_LAYERS)
        where = "VGG16"
    elif spec.lower().endswith(".keras") and os.path.isfile(spec):
        names = layer_names_in_archive(spec)
        where = f"model file {spec!r}"
    else:
        return
    if not names:
        return
    import difflib

    for layer in layers:
        parts = layer.split("/")
        if not all(part in names for part in parts):
            close = difflib.get_close_matches(parts[-1], sorted(names), n=4, cutoff=0.5)
            hint = f" Closest names: {close}." if close else ""
            raise CommandError(f"No layer {layer!r} in {where}.{hint}")


def check_model_spec(spec: str) -> None:
    """Reject an unknown model name or a broken model file before anything slow happens."""
    if spec.lower() in MODEL_NAMES and not os.path.exists(spec):
        return
    if os.path.exists(spec) or spec.lower().endswith(MODEL_EXTENSIONS):
        check_model_file(spec)
        return
    raise CommandError(f"unknown model {spec!r}: use one of {', '.join(MODEL_NAMES)}, or a path to a saved .keras file")


def read_class_names(path: str) -> list[str]:
    """One class name per line (trailing blank lines ignored; a blank line inside is an error)."""
    if not os.path.isfile(path):
        raise CommandError(f"--classes file {path!r} does not exist")
    try:
        with open(path, encoding="utf-8") as file:
            lines = [line.strip() for line in file.read().splitlines()]
    except UnicodeDecodeError:
        raise CommandError(f"--classes file {path!r} is not UTF-8 text (one class name per line)") from None
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise CommandError(f"--classes file {path!r} is empty; expected one class name per line")
    blank = [i + 1 for i, line in enumerate(lines) if not line]
    if blank:
        raise CommandError(
            f"--classes file {path!r} has an empty line {blank[0]}: one class name per line, in the "
            "model's output order"
        )
    return lines


def check_images(paths: Sequence[str], limit: int | None) -> None:
    """Every image path exists and every file is an image (headers only, nothing decoded)."""
    from kerasviz.core.errors import ImageReadError
    from kerasviz.imagefiles import check_image_file, photo_files

    try:
        for file, _ in photo_files(paths, limit):
            check_image_file(file)
    except ImageReadError as err:
        raise CommandError(str(err)) from None
