"""Hypothesis strategies from the JSON Schemas: valid frames, bodies and event data, and
hostile mutations of them. Test support: hypothesis is a dev dependency, nothing at run
time imports this module.

Only the keywords the schemas use are understood (``$ref``, ``const``, ``enum``, ``oneOf``,
``type``, string/integer bounds, ``pattern``, ``properties``, ``required``,
``propertyNames``, ``additionalProperties``, ``items``); ``if``/``then``/``else`` is left
to a final filter by the validator, so every generated "valid" value conforms.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from imfaas.events.schema_registry import data_problems, schema_resolver

if TYPE_CHECKING:
    from referencing._core import Resolver  # the type Registry.resolver() returns

# Any Unicode scalar value (no surrogates): everything a UTF-8 JSON text can carry.
_CHARS = st.characters(codec="utf-8")
_SHORT = 12  # cap for unbounded strings and collections in valid values


@cache
def valid_values(schema_name: str) -> st.SearchStrategy[Any]:
    """Values that conform to the named schema (``frames/msg.send.json``, ``http/...``)."""
    schema, resolver = schema_resolver(schema_name)
    return _strategy(schema, resolver).filter(lambda v: not data_problems(schema_name, v))


@cache
def hostile_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Wrong types, huge numbers and strings, odd Unicode and nested garbage."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from([0, -1, 2**31, 2**63, -(2**63), 10**30, -(10**30)]),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([1e308, -1e308, 5e-324, -0.0, 0.5]),
        st.text(_CHARS, max_size=40),
        st.sampled_from(["", " ", "\x00", "\u202e", "😀" * 8, "d:", "g:", "d::", ":", "a" * 200]),
        st.builds(lambda n, c: c * n, st.integers(1_000, 70_000), st.sampled_from("xé😀")),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.text(_CHARS, max_size=8), inner, max_size=4),
        ),
        max_leaves=max_leaves,
    )


@cache
def deep_nesting(max_depth: int = 200) -> st.SearchStrategy[Any]:
    """A list or object nested up to ``max_depth`` levels (deep enough to hurt recursion)."""

    def nest(depth: int, as_object: bool) -> Any:
        value: Any = 1
        for _ in range(depth):
            value = {"a": value} if as_object else [value]
        return value

    return st.builds(nest, st.integers(1, max_depth), st.booleans())


@cache
def mutated_values(schema_name: str) -> st.SearchStrategy[Any]:
    """A valid value with one part broken: a required field dropped, a field (at any depth)
    replaced by hostile data, unknown fields added; or hostile data instead of the value."""
    return st.one_of(
        valid_values(schema_name).flatmap(_mutations), hostile_values(), deep_nesting()
    )


def _mutations(valid: Any) -> st.SearchStrategy[Any]:
    paths = _paths(valid)
    return st.one_of(
        st.builds(_drop, st.just(valid), st.sampled_from(paths)),
        st.builds(
            _replace,
            st.just(valid),
            st.sampled_from(paths),
            st.one_of(hostile_values(), deep_nesting()),
        ),
        st.builds(
            lambda extra: {**extra, **valid},
            st.dictionaries(st.text(_CHARS, min_size=1, max_size=8), hostile_values(), max_size=3),
        ),
    )


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            found.append((*prefix, key))
            found.extend(_paths(inner, (*prefix, key)))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found.append((*prefix, index))
            found.extend(_paths(inner, (*prefix, index)))
    return found or [prefix]


def _copy_to(value: Any, path: tuple[Any, ...]) -> tuple[Any, Any]:
    """A copy of ``value`` with the containers along ``path`` copied; and the parent."""
    root = _shallow(value)
    parent = root
    for key in path[:-1]:
        parent[key] = _shallow(parent[key])
        parent = parent[key]
    return root, parent


def _shallow(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else list(value)


def _drop(value: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return None
    root, parent = _copy_to(value, path)
    del parent[path[-1]]
    return root


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    root, parent = _copy_to(value, path)
    parent[path[-1]] = new
    return root


def _strategy(schema: Any, resolver: Resolver) -> st.SearchStrategy[Any]:
    if schema is True or schema == {}:
        return hostile_values(max_leaves=3)
    if "$ref" in schema:
        resolved = resolver.lookup(schema["$ref"])
        return _strategy(resolved.contents, resolved.resolver)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "oneOf" in schema:
        base = {k: v for k, v in schema.items() if k != "oneOf"}
        return st.one_of([_strategy(_merge(base, branch), resolver) for branch in schema["oneOf"]])
    kind = schema.get("type")
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        # JSON integers are unbounded: past 64 bits is valid too, and storage must cope.
        edges = [-(10**30), -(2**63), 0, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 10**30]
        return st.one_of(
            st.integers(low, high),
            st.sampled_from(edges).filter(
                lambda n: (low is None or n >= low) and (high is None or n <= high)
            ),
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(
            _strategy(schema.get("items", True), resolver),
            min_size=schema.get("minItems", 0),
            max_size=min(schema.get("maxItems", 4), 4),
        )
    if kind == "object" or "properties" in schema:
        return _object(schema, resolver)
    return hostile_values(max_leaves=3)


def _merge(base: dict[str, Any], branch: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **branch}
    if "required" in base and "required" in branch:
        merged["required"] = [*base["required"], *branch["required"]]
    return merged


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), schema.get("maxLength", _SHORT)
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True, alphabet=_CHARS).filter(
            lambda s: low <= len(s) <= schema.get("maxLength", len(s))
        )
    return st.text(_CHARS, min_size=low, max_size=max(low, min(high, 4 * _SHORT)))


def _object(schema: dict[str, Any], resolver: Resolver) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    fixed = st.fixed_dictionaries(
        {k: _strategy(v, resolver) for k, v in properties.items() if k in required},
        optional={k: _strategy(v, resolver) for k, v in properties.items() if k not in required},
    )
    extra = schema.get("additionalProperties")
    if not isinstance(extra, dict):
        return fixed
    names = _strategy({"type": "string", **schema.get("propertyNames", {})}, resolver)
    more = st.dictionaries(names, _strategy(extra, resolver), max_size=3)
    return st.builds(lambda a, b: {**b, **a}, fixed, more)


def fuzz_settings(max_examples: int = 150) -> settings:
    """Settings for property tests over a fixture shared by every example (an async function
    under test, its ports): no deadline, no example database left in the work tree."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
