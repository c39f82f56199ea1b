"""Importing a model file from anywhere (a download, a file copied from another computer) into the model directory.

The file is read without running anything in it: safetensors as they are, PyTorch pickles (``.pth``, ``.ckpt``,
``.pt``, ``.bin``) only through ``torch.load(weights_only=True)``, which refuses any pickle that would call code.
The network is recognised from its state dict (:mod:`ented_desktop.core.archs`), stored as ``NAME.safetensors``
with what it is in the metadata and the original file's sha256, listed in the manifest, and exported to ONNX
beside it. Anything else is refused with a sentence that says what the file is.
"""

from __future__ import annotations

import hashlib
import os
import pickletools
import re
import shutil
import zipfile
from pathlib import Path

from ..atomic import atomic_path, write_bytes_atomic
from ..errors import ModelError, UserError
from ..paths import model_dir as user_model_dir
from ..weights import FORMAT as ENTED_FORMAT
from ..weights import SUFFIX, add_to_manifest, read_metadata, remove_model, sha256_file
from .catalogue import CATALOGUE, CatalogueEntry, entry_for_sha256
from .store import THIRDPARTY_FORMAT, InstalledModel, find_installed, record_in_manifest

PICKLE_SUFFIXES = (".pth", ".ckpt", ".pt", ".bin")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
PURPOSE_WORDS = {"face": "face restorer", "background": "background upscaler"}
# Globals a weights pickle legitimately names; anything else would be called when the pickle is loaded.
_SAFE_GLOBAL_PREFIXES = ("torch.", "collections.OrderedDict", "builtins.set", "builtins.dict", "builtins.list",
                         "_codecs.encode", "numpy.")


def _pickle_globals(data: bytes) -> list[str]:
    """The ``module.name`` globals a pickle stream refers to, read statically (nothing is executed)."""
    found: list[str] = []
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name in ("GLOBAL", "INST"):
                found.append(str(arg).replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str):
                strings.append(arg)
    except Exception:  # a damaged stream: what was read so far is all there is to tell
        pass
    return found


def _unsafe_globals(path: Path) -> list[str]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            data = b"".join(archive.read(n) for n in archive.namelist() if n.endswith("data.pkl"))
    else:
        data = path.read_bytes()
    return [g for g in _pickle_globals(data) if not g.startswith(_SAFE_GLOBAL_PREFIXES)]


def _load_pickle(path: Path) -> object:
    import pickle

    import torch

    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] != b"PK" and head[:1] != b"\x80":
        raise ModelError(f"{path.name} is not a PyTorch weights file (it is neither a zip archive nor a pickle).")
    if head[:2] == b"PK" and not zipfile.is_zipfile(path):
        raise ModelError(f"{path.name} is truncated or damaged: its zip archive has no end (an incomplete download?).")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        unsafe = _unsafe_globals(path) or re.findall(r"GLOBAL (\S+)", str(exc))
        if unsafe:
            raise ModelError(
                f"{path.name} was refused: loading it would run Python code ({', '.join(sorted(set(unsafe))[:3])}), "
                "so it is not a plain weights file; nothing in it was run."
            ) from None
        raise ModelError(f"{path.name} was refused: it is not a PyTorch weights file that can be read safely (its "
                         "pickle uses instructions a weights file does not need); nothing in it was run.") from None
    except (EOFError, RuntimeError, OSError, ValueError) as exc:
        if "EOF" in str(exc) or isinstance(exc, (EOFError, OSError)):
            raise ModelError(f"{path.name} is truncated or damaged (it ends too early: an incomplete download?).") \
                from None
        raise ModelError(f"{path.name} cannot be read as PyTorch weights ({exc}).") from None


def load_weights_file(path: Path) -> tuple[object, dict[str, str]]:
    """The object stored in a model file and its safetensors metadata ({} for pickles), never running code."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} does not exist.")
    if path.stat().st_size == 0:
        raise ModelError(f"{path.name} is empty.")
    suffix = path.suffix.lower()
    if suffix == SUFFIX:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        metadata = read_metadata(path)
        try:
            return load_file(str(path)), metadata
        except (SafetensorError, OSError) as exc:
            raise ModelError(f"{path.name} is truncated or damaged ({exc}).") from None
    if suffix in PICKLE_SUFFIXES:
        return _load_pickle(path), {}
    raise ModelError(f"{path.name} is not a model file ENTED Desktop can import (.safetensors, "
                     f"{', '.join(PICKLE_SUFFIXES)}).")


def _default_name(source: Path, entry: CatalogueEntry | None) -> str:
    if entry is not None:
        return entry.name
    name = re.sub(r"[^a-z0-9._+-]+", "-", source.stem.lower()).strip("-._")
    return name[:64] or "imported-model"


def _check_name(name: str, source_sha256: str, folder: Path) -> InstalledModel | None:
    """Refuse a name that is taken by another model; return the installed one when it is this very file."""
    if not NAME_PATTERN.fullmatch(name):
        raise UserError(f"{name!r} cannot be a model name: use up to 64 letters, digits, '.', '_', '+' or '-', "
                        "starting with a letter or digit.")
    existing = find_installed(name, folder, verify=False)
    if existing is None:
        return None
    if existing.source_sha256 == source_sha256 and not existing.shipped and existing.path.parent == folder:
        return existing
    raise UserError(f"A model called {name!r} is already installed ({existing.path}); choose another name with "
                    f"--name, or remove it first with `ented models remove {name}`.")


def import_model(
    source: str | os.PathLike[str],
    *,
    name: str | None = None,
    purpose: str | None = None,
    model_dir: str | os.PathLike[str] | None = None,
    onnx: bool = True,
    catalogued: CatalogueEntry | None = None,
) -> InstalledModel:
    """Install the model in ``source`` under ``name`` (by default its catalogue name, else its file name).

    ``purpose`` ("face" or "background") refuses a model of the other kind; a catalogue ``name`` refuses a file
    of another architecture. The original file is left as it is. With ``onnx``, a face model's ONNX export
    (checked for parity) is written too; when it fails nothing stays installed. ``catalogued`` is the catalogue
    entry the file was downloaded (and verified) as; otherwise its sha256 finds it in the catalogue.
    """
    source = Path(source)
    if not source.is_file():
        raise UserError(f"{source} does not exist or is not a file.")
    folder = user_model_dir(model_dir)
    source_sha256 = sha256_file(source)
    known = catalogued or entry_for_sha256(source_sha256)
    wanted = next((e for e in CATALOGUE if e.name == name), None) if name else known
    name = name or _default_name(source, known)
    if wanted is not None and wanted.shipped:
        raise UserError(f"{wanted.name} ships with ENTED Desktop; choose another --name for this file.")
    existing = _check_name(name, source_sha256, folder)
    if existing is not None:
        return existing

    obj, metadata = load_weights_file(source)
    if metadata.get("format") == ENTED_FORMAT:
        return _import_ented(source, name, purpose, folder)
    from ..archs import detect_architecture, unwrap_state_dict

    try:
        state = unwrap_state_dict(obj)
        info = detect_architecture(state)
    except ModelError as exc:  # their sentence says what the file is; this one says which file
        text = str(exc)
        raise ModelError(f"{source.name} cannot be imported: {text[:1].lower()}{text[1:]}") from None
    if purpose is not None and info.purpose != purpose:
        what = PURPOSE_WORDS.get(info.purpose, info.purpose)
        raise ModelError(f"{source.name} is {_article(what)} {what} ({info.display}), not "
                         f"{_article(PURPOSE_WORDS.get(purpose, purpose))} {PURPOSE_WORDS.get(purpose, purpose)}.")
    if wanted is not None and info.architecture != wanted.architecture:
        raise ModelError(f"{source.name} is {info.display}, not {wanted.display}: it cannot be installed as "
                         f"{wanted.name}.")
    licence_from = wanted if wanted is not None and wanted.sha256 == source_sha256 else known
    licence = (licence_from.licence, licence_from.licence_url) if licence_from else (
        metadata.get("licence", "unknown (imported file)"), metadata.get("licence_url", ""))
    meta = {
        "format": THIRDPARTY_FORMAT,
        "architecture": info.architecture,
        "purpose": info.purpose,
        "resolution": str(info.resolution),
        "scale": str(info.scale),
        "source_sha256": metadata.get("source_sha256", source_sha256),
        "source_name": metadata.get("source_name", source.name),
        "licence": licence[0],
        "licence_url": licence[1],
    }
    weights = folder / f"{name}{SUFFIX}"
    _store(state, meta, weights)
    if onnx:
        from ..engines.background_export import export_background_onnx
        from ..engines.thirdparty_export import export_thirdparty_onnx

        try:
            (export_thirdparty_onnx if info.purpose == "face" else export_background_onnx)(weights)
        except BaseException:
            remove_model(weights)
            raise
    return _installed(name, folder)


def _installed(name: str, folder: Path) -> InstalledModel:
    installed = find_installed(name, folder)
    if installed is None:  # only if another program deleted it meanwhile
        raise ModelError(f"{name} disappeared from {folder} while it was being installed.")
    return installed


def _article(display: str) -> str:
    return "an" if display[:1].lower() in "aeiou" else "a"


def _store(state: dict, metadata: dict[str, str], path: Path) -> None:
    import torch
    from safetensors.torch import save

    tensors, storages = {}, set()
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise ModelError(f"The weights hold a {type(value).__name__} under {key!r}, not a tensor.")
        value = value.detach().to("cpu")
        storage = value.untyped_storage().data_ptr()
        # safetensors refuses tensors that share memory (tied weights do): those get a copy of their own.
        tensors[key] = value.clone() if storage in storages else value.contiguous()
        storages.add(storage)
    data = save(tensors, metadata=metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, data)
    record_in_manifest(path, hashlib.sha256(data).hexdigest())


def _import_ented(source: Path, name: str, purpose: str | None, folder: Path) -> InstalledModel:
    """An ENTED model (a personal model from another computer): checked, then copied as it is."""
    from ..weights import load_generator

    if purpose not in (None, "face"):
        raise ModelError(f"{source.name} is an ENTED face restorer, not a {PURPOSE_WORDS.get(purpose, purpose)}.")
    load_generator(source, verify=False)
    target = folder / f"{name}{SUFFIX}"
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    add_to_manifest(target)
    return _installed(name, folder)
