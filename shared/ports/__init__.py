"""Ports: what handlers need from the outside world, as ``typing.Protocol`` classes.

Each port states its guarantees in its docstrings; every adapter must keep them, and one
contract test suite per port checks that it does.
"""
