"""The login function: register, login, token refresh with rotation, logout."""
