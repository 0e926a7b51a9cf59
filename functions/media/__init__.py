"""The media function: ``media.upload_url`` and ``media.download_url``."""
