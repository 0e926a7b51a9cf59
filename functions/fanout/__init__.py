"""The fanout function: stored messages and session changes → one batch per gateway node."""
