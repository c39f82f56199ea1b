"""Everything ENTED Desktop does, without a window: the network, the face pipeline, the engines, the model
manager, the library and the restore path. Imports no Qt and nothing from ``gui``, ``cli`` or ``training``; the
CLI, the app and training import it."""
