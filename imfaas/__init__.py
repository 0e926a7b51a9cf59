"""imfaas: an instant-messaging backend built as serverless functions."""

__version__ = "0.1.0"
