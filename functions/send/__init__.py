"""The send function: validates and authorizes a message, then submits it to the store."""
