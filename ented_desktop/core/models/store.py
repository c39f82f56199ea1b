"""The models installed in the model directories: what each is, whether its files match the manifest, removal.

A model is ``NAME.safetensors`` (ENTED's own format, or a third-party network stored by the importer with the
metadata of :data:`THIRDPARTY_FORMAT`), with ``NAME.onnx`` beside it when it was exported, both listed in the
folder's ``manifest.sha256``. The user model directory comes first, then the models shipped with the app.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelError, UserError
from ..paths import model_dir as user_model_dir
from ..paths import shipped_models_dir
from ..weights import FORMAT as ENTED_FORMAT
from ..weights import MANIFEST, SUFFIX, add_to_manifest, read_manifest, read_metadata, remove_model, sha256_file
from .catalogue import CATALOGUE

THIRDPARTY_FORMAT = "ented-thirdparty/1"

# (path, size, mtime_ns) -> sha256: listing the models twice in one process does not hash 300 MB files twice.
_digests: dict[tuple[str, int, int], str] = {}


@dataclass(frozen=True)
class InstalledModel:
    name: str
    architecture: str
    purpose: str              # face | background
    resolution: int           # face size; 0 for background models
    scale: int
    size_bytes: int           # weights and ONNX export together
    licence: str
    path: Path                # the .safetensors file
    verified: bool            # every file matches its manifest line (and the ONNX export these weights)
    shipped: bool
    licence_url: str = ""
    source_sha256: str = ""   # sha256 of the file it was imported from ("" for ENTED models)
    onnx: Path | None = field(default=None)
    problem: str = ""         # why it is not verified, in one sentence


def cached_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        _digests[key] = sha256_file(path)
    return _digests[key]


def model_directories(model_dir: str | os.PathLike[str] | None = None) -> list[tuple[Path, bool]]:
    """(folder, shipped) pairs in lookup order: the user's models first, then the shipped ones."""
    user = user_model_dir(model_dir)
    shipped = shipped_models_dir()
    folders = [(user, False)]
    if shipped.resolve() != user.resolve():
        folders.append((shipped, True))
    return folders


def _check_files(path: Path, manifest: dict[str, str], verify: bool) -> tuple[bool, str]:
    """Whether the weights (and their ONNX export) match the manifest; a sentence saying why not."""
    expected = manifest.get(path.name)
    if expected is None:
        return False, f"{path.name} is not listed in {path.parent / MANIFEST}."
    if not verify:
        return True, ""
    if cached_sha256(path) != expected:
        return False, f"{path.name} does not match its sha256 in {MANIFEST}: the file is damaged."
    onnx = path.with_suffix(".onnx")
    if onnx.is_file():
        onnx_expected = manifest.get(onnx.name)
        if onnx_expected is None:
            return False, f"{onnx.name} is not listed in {MANIFEST}."
        if cached_sha256(onnx) != onnx_expected:
            return False, f"{onnx.name} does not match its sha256 in {MANIFEST}: the file is damaged."
    return True, ""


def _describe(path: Path, shipped: bool, manifest: dict[str, str], verify: bool) -> InstalledModel:
    onnx = path.with_suffix(".onnx")
    size = path.stat().st_size + (onnx.stat().st_size if onnx.is_file() else 0)
    base = dict(name=path.stem, path=path, shipped=shipped, size_bytes=size, onnx=onnx if onnx.is_file() else None)
    try:
        meta = read_metadata(path)
    except ModelError as exc:
        return InstalledModel(architecture="unreadable", purpose="", resolution=0, scale=0, licence="",
                              verified=False, problem=str(exc), **base)
    ok, problem = _check_files(path, manifest, verify)
    if meta.get("format") == THIRDPARTY_FORMAT:
        try:
            resolution, scale = int(meta.get("resolution", "0")), int(meta.get("scale", "1"))
        except ValueError:
            resolution, scale, ok, problem = 0, 0, False, f"{path.name} has invalid metadata."
        return InstalledModel(
            architecture=meta.get("architecture", "unknown"), purpose=meta.get("purpose", ""),
            resolution=resolution, scale=scale, licence=meta.get("licence", "unknown"),
            licence_url=meta.get("licence_url", ""), source_sha256=meta.get("source_sha256", ""),
            verified=ok, problem=problem, **base,
        )
    if meta.get("format") == ENTED_FORMAT:
        try:
            resolution = int(json.loads(meta["config"]).get("resolution", 0))
        except (KeyError, ValueError, TypeError, AttributeError):
            resolution, ok, problem = 0, False, f"{path.name} has an invalid ENTED configuration."
        entry = next((e for e in CATALOGUE if e.name == path.stem and e.architecture == "ented"), None)
        licence = (entry.licence, entry.licence_url) if entry else ("your own model (trained by you)", "")
        return InstalledModel(architecture="ented", purpose="face", resolution=resolution, scale=1,
                              licence=licence[0], licence_url=licence[1], verified=ok, problem=problem, **base)
    return InstalledModel(architecture="unknown", purpose="", resolution=0, scale=0, licence="", verified=False,
                          problem=f"{path.name} is not a model ENTED Desktop stored (no known format in its "
                                  "metadata).", **base)


def installed_models(model_dir: str | os.PathLike[str] | None = None, *, verify: bool = True) -> list[InstalledModel]:
    """Every model in the user model directory, then those shipped with the app, sorted by name in each.

    With ``verify``, each file's sha256 is compared with its manifest line (cached per file and modification
    time); without, only the presence of that line is checked."""
    models = []
    for folder, shipped in model_directories(model_dir):
        if not folder.is_dir():
            continue
        manifest = read_manifest(folder)
        for path in sorted(folder.glob(f"*{SUFFIX}")):
            if path.name.startswith("."):
                continue
            models.append(_describe(path, shipped, manifest, verify))
    return models


def find_installed(name: str, model_dir: str | os.PathLike[str] | None = None, *,
                   verify: bool = True) -> InstalledModel | None:
    """The model called ``name`` (the user's copy before a shipped one), or None."""
    for folder, shipped in model_directories(model_dir):
        path = folder / f"{name}{SUFFIX}"
        if path.is_file():
            return _describe(path, shipped, read_manifest(folder), verify)
    return None


def remove_installed(name: str, model_dir: str | os.PathLike[str] | None = None) -> InstalledModel:
    """Delete the user's model ``name`` (weights, ONNX export, card and manifest lines) and return what it was."""
    model = find_installed(name, model_dir, verify=False)
    if model is None:
        raise UserError(f"No model called {name!r} is installed; `ented models list` shows those that are.")
    if model.shipped:
        raise UserError(f"{name} ships with ENTED Desktop and cannot be removed.")
    remove_model(model.path)
    return model


def record_in_manifest(path: Path, digest: str) -> None:
    """Set ``path``'s manifest line to ``digest``, computed by the caller from the bytes it wrote, and remember it."""
    add_to_manifest(path, digest)
    stat = path.stat()
    _digests[(str(path.resolve()), stat.st_size, stat.st_mtime_ns)] = digest


def verify_installed(model_dir: str | os.PathLike[str] | None = None) -> list[InstalledModel]:
    """Every installed model with its files hashed again now (no cached digest is trusted)."""
    _digests.clear()
    return installed_models(model_dir, verify=True)
