"""The event catalog: CloudEvent types, JSON Schemas and the one codec everybody uses."""
