"""The Cassandra row factory: the driver's row shape, one class per column list."""

from __future__ import annotations

from cassandra.query import named_tuple_factory

from imfaas.shared.adapters.cassandra_session import cached_row_factory


def test_rows_read_as_the_drivers_named_tuples() -> None:
    columns = ["[applied]", "conversation", "seq", "last-seen"]
    rows = [(True, "d:a:b", 3, 7), (False, "g:g1", 4, 8)]

    ours, drivers = cached_row_factory(columns, rows), named_tuple_factory(columns, rows)

    assert [r._fields for r in ours] == [r._fields for r in drivers]
    assert [tuple(r) for r in ours] == [tuple(r) for r in drivers]
    assert ours[0].applied is True and ours[1].seq == 4


def test_one_class_serves_every_result_with_the_same_columns() -> None:
    first = cached_row_factory(["conversation", "seq"], [("a", 1)])
    second = cached_row_factory(["conversation", "seq"], [("b", 2)])
    other = cached_row_factory(["seq", "conversation"], [(3, "c")])

    assert type(first[0]) is type(second[0])
    assert type(other[0]) is not type(first[0]) and other[0].conversation == "c"


def test_an_empty_result_is_an_empty_list() -> None:
    assert cached_row_factory(["seq"], []) == []
