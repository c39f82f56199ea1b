"""Errors a user can cause. Their message is one readable sentence, shown as it is by the CLI and the GUI."""


class UserError(Exception):
    """A problem with the user's input or environment, not a bug."""


class ImageReadError(UserError):
    """A file that cannot be read as a photo (empty, truncated, corrupt, unsupported, too large)."""


class ImageWriteError(UserError):
    """An output that cannot be written (folder not writable, disk full)."""


class ModelError(UserError):
    """A model that is missing, damaged, foreign or not trained."""
