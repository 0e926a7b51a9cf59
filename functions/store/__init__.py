"""The store function: the single writer per conversation (dedup, gap-free seq, durable write)."""
