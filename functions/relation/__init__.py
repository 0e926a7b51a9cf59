"""The relation function: friends, friend requests and blocks."""
