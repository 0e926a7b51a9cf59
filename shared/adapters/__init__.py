"""Adapters: one module per backend and port (``<port>_<backend>.py``)."""
