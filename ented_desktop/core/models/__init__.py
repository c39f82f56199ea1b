"""The model manager: the catalogue of known models, downloads, imports and the installed models (Qt-free).

May import the rest of the core (weights, archs, engines for the ONNX export at import); used by ``ented models``
and the Models dialog."""
