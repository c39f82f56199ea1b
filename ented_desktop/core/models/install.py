"""A catalogued model from its official URL to usable: download, verify, import (safetensors + ONNX export)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UserError
from ..paths import model_dir as user_model_dir
from .catalogue import CatalogueEntry, catalogue_entry, download_url
from .download import AbortFn, ProgressFn, download_file
from .importer import import_model
from .store import InstalledModel


class LicenceNotAccepted(UserError):
    """A model whose licence restricts its use was asked for without accepting that licence."""


def check_licence(entry: CatalogueEntry, accepted: bool) -> None:
    """Raise :class:`LicenceNotAccepted` for a model whose licence restricts its use, unless it was accepted."""
    if entry.non_commercial and not accepted:
        raise LicenceNotAccepted(
            f"{entry.display} is under the {entry.licence}: read {entry.licence_url} and accept it to download "
            f"it (`ented models download {entry.name} --accept-license`)."
        )


def install_from_catalogue(
    name: str,
    *,
    model_dir: str | os.PathLike[str] | None = None,
    accept_licence: bool = False,
    progress: ProgressFn | None = None,
    abort: AbortFn | None = None,
    url_base: str | None = None,
    onnx: bool = True,
    retry_wait: float = 1.0,
) -> InstalledModel:
    """Download the catalogue's model ``name`` into the user model directory and install it.

    The verified upstream file is moved into the model directory, imported, then deleted (the installed
    safetensors record its sha256). If the import fails it stays there, so `ented models import` can retry it
    without downloading again.
    """
    entry = catalogue_entry(name)
    url = download_url(entry, url_base)
    check_licence(entry, accept_licence)
    folder = user_model_dir(model_dir)
    source = download_file(url, folder / entry.file_name, size=entry.size_bytes, sha256=entry.sha256,
                           progress=progress, abort=abort, retry_wait=retry_wait)
    installed = import_model(source, name=entry.name, purpose=entry.purpose, model_dir=folder, onnx=onnx,
                             catalogued=entry)
    Path(source).unlink(missing_ok=True)
    return installed
