"""ENTED weights on disk: safetensors files with the network configuration in their metadata, listed with their
sha256 in a ``manifest.sha256`` beside them (the ``sha256sum`` format, so ``sha256sum -c`` checks it too).

Loading never executes pickled code, and a file is used only when its sha256 matches its manifest line. The
architecture is read from the metadata and checked against the state dict's keys and shapes, so a damaged or
foreign file is refused with a message that says what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save

from .atomic import write_bytes_atomic, write_text_atomic
from .errors import ModelError
from .network import ENTEDConfig, ENTEDGenerator
from .paths import model_dir, shipped_models_dir

MANIFEST = "manifest.sha256"
SUFFIX = ".safetensors"
FORMAT = "ented-generator/1"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory: Path) -> dict[str, str]:
    """File name -> sha256, from ``directory/manifest.sha256`` (empty when there is none)."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        return {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} cannot be read ({exc}); reinstall the models or re-export them.") from exc
    entries = {}
    for number, line in enumerate(lines, 1):
        if line.strip() and not line.startswith("#"):
            fields = line.split(maxsplit=1)
            if len(fields) != 2:
                raise ModelError(f"{path}, line {number}, is not a 'sha256  file name' line.")
            entries[fields[1].lstrip("*")] = fields[0].lower()
    return entries


def _write_manifest(directory: Path, entries: dict[str, str]) -> None:
    text = "".join(f"{digest}  {name}\n" for name, digest in sorted(entries.items()))
    write_text_atomic(directory / MANIFEST, text)


def add_to_manifest(path: Path, digest: str | None = None) -> str:
    """Record (or update) ``path``'s sha256 in the manifest of its folder; returns the digest. ``digest``: one the
    caller computed from the bytes it wrote (hashing a 300 MB file again costs seconds)."""
    path = Path(path)
    entries = read_manifest(path.parent)
    entries[path.name] = digest or sha256_file(path)
    _write_manifest(path.parent, entries)
    return entries[path.name]


def remove_model(path: Path) -> None:
    """Delete a model file, its model card, its ONNX export and their manifest lines (the lines first: a file that
    is listed but gone is reported as missing, never a stale file as verified)."""
    path = Path(path)
    files = (path, path.with_suffix(".md"), path.with_suffix(".onnx"))
    entries = read_manifest(path.parent)
    kept = {name: digest for name, digest in entries.items() if name not in {f.name for f in files}}
    if kept != entries:
        _write_manifest(path.parent, kept)
    for file in files:
        file.unlink(missing_ok=True)


def save_generator(generator: ENTEDGenerator, path: Path, info: dict | None = None) -> str:
    """Write the generator's weights as safetensors (atomically), register them in the manifest, return the sha256."""
    path = Path(path)
    metadata = {"format": FORMAT, "config": generator.config.to_json(), "info": json.dumps(info or {})}
    state = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    # Serialised in memory: safetensors' save_file would make the file 0600, and models are meant to be shared.
    write_bytes_atomic(path, save(state, metadata=metadata))
    return add_to_manifest(path)


def read_metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            return fh.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{path.name} is not a readable safetensors file ({exc}).") from exc


def load_generator(path: Path, *, verify: bool = True) -> tuple[ENTEDGenerator, dict]:
    """Load an ENTED generator and its ``info`` metadata; with ``verify``, the file must match its manifest."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"Model file {path} does not exist.")
    if verify:
        expected = read_manifest(path.parent).get(path.name)
        if expected is None:
            raise ModelError(
                f"{path.name} is not listed in {path.parent / MANIFEST}; refusing a model file of unknown origin."
            )
        if sha256_file(path) != expected:
            raise ModelError(
                f"{path.name} is damaged: its sha256 does not match {MANIFEST}. Reinstall or re-export it."
            )
    metadata = read_metadata(path)
    if metadata.get("format") != FORMAT or "config" not in metadata:
        raise ModelError(f"{path.name} is not an ENTED model (no ENTED configuration in its metadata).")
    try:
        config = ENTEDConfig.from_json(metadata["config"])
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelError(f"{path.name} has an invalid ENTED configuration: {exc}") from exc
    generator = ENTEDGenerator(config)
    state = load_file(str(path))
    expected_shapes = {k: tuple(v.shape) for k, v in generator.state_dict().items()}
    got_shapes = {k: tuple(v.shape) for k, v in state.items()}
    if expected_shapes != got_shapes:
        missing = sorted(set(expected_shapes) - set(got_shapes))[:3]
        wrong = sorted(k for k in set(expected_shapes) & set(got_shapes) if expected_shapes[k] != got_shapes[k])[:3]
        raise ModelError(f"{path.name} does not match its configuration (missing {missing}, wrong shape {wrong}).")
    broken = [k for k, v in state.items() if v.is_floating_point() and not bool(v.isfinite().all())]
    if broken:  # a diverged run: such a network turns every face black, and nothing else would notice
        raise ModelError(f"{path.name} holds weights that are not numbers ({len(broken)} tensors, first {broken[0]}).")
    generator.load_state_dict(state)
    generator.eval().requires_grad_(False)
    return generator, json.loads(metadata.get("info", "{}"))


def model_search_dirs(override: str | os.PathLike[str] | None = None) -> list[Path]:
    """The user model directory first, then the models shipped with the application."""
    return [model_dir(override), shipped_models_dir()]


DEFAULT_MODEL = "ented-lfw128"


def resolve_model(name_or_path: str | os.PathLike[str] | None, model_dir_override=None) -> Path:
    """A model name (looked up in the model directories) or a path -> the weights file."""
    name = str(name_or_path) if name_or_path else DEFAULT_MODEL
    candidate = Path(name)
    if candidate.parent != Path(".") or (candidate.suffix == SUFFIX and candidate.is_file()):
        if not candidate.is_file():
            raise ModelError(f"Model file {candidate} does not exist.")
        return candidate
    name = name.removesuffix(SUFFIX)  # a bare file name: looked for in the model directories too
    for directory in model_search_dirs(model_dir_override):
        path = directory / f"{name}{SUFFIX}"
        if path.is_file():
            return path
    searched = ", ".join(str(d) for d in model_search_dirs(model_dir_override))
    raise ModelError(
        f"No trained ENTED model named {name!r} is installed (looked in {searched}). "
        "ENTED Desktop never restores with an untrained network: install the released model or train one with "
        "`ented train`."
    )
