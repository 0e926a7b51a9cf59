"""The history function: ``sync``, ``msg.history`` and ``conv.list``."""
