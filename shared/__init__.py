"""The imfaas shared library: settings, errors, domain types, ports and adapters."""
