"""Where the application finds its shipped files and keeps the user's data.

Shipped files (``models/``, ``resources/``) sit at the project root in a source checkout and at
``sys._MEIPASS`` inside a PyInstaller bundle. User data lives in the appdirs user data directory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import appdirs

APP_NAME = "ENTED Desktop"
APP_AUTHOR = "ENTED"


def bundle_root() -> Path:
    """The folder that holds ``models/`` and ``resources/``, in a checkout or a PyInstaller bundle."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen)
    return Path(__file__).resolve().parents[2]


def shipped_models_dir() -> Path:
    return bundle_root() / "models"


def resources_dir() -> Path:
    return bundle_root() / "resources"


def user_data_dir() -> Path:
    """The per-user data directory; ``ENTED_DATA_DIR`` overrides it (tests, portable installs)."""
    override = os.environ.get("ENTED_DATA_DIR")
    return Path(override) if override else Path(appdirs.user_data_dir(APP_NAME, APP_AUTHOR))


def log_file() -> Path:
    """The desktop app's log, with the traceback of any unexpected error (rotated beside it)."""
    return user_data_dir() / "logs" / "ented-desktop.log"


def model_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The user model directory: ``override`` (a CLI flag), else ``ENTED_MODEL_DIR``, else user data/models.

    Detector weights and personal (fine-tuned) models are looked up here; shipped ENTED weights are
    looked up here first and then in :func:`shipped_models_dir`.
    """
    if override:
        return Path(override)
    env = os.environ.get("ENTED_MODEL_DIR")
    return Path(env) if env else user_data_dir() / "models"
