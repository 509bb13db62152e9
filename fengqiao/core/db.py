"""Small database helpers the ORM has no fast path for: writing many rows of one model at once.

Django's bulk_create and bulk_update build every value through the query compiler, one
parameter per value; for a few thousand rows that costs more CPU than the database spends writing
them. These helpers prepare each value once and let the driver send them. On PostgreSQL, inserts
go by COPY and updates as one UPDATE joined to arrays of the new values, bound on the server in
binary; SQLite, which runs in process, takes batched statements.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models

# stock field types whose Python value both databases take as it is (text choices become plain text)
_AS_IS = (models.AutoField, models.BigAutoField, models.BigIntegerField, models.BooleanField,
          models.IntegerField, models.PositiveIntegerField, models.PositiveSmallIntegerField, models.SmallIntegerField)
_TEXT = (models.CharField, models.TextField)


def _fields(model: type[models.Model], names: Sequence[str]) -> list[models.Field]:
    fields = [model._meta.get_field(name) for name in names]
    if not all(isinstance(f, models.Field) and f.concrete for f in fields):
        raise ValueError("only concrete fields can be written")
    return fields  # type: ignore[return-value]


def _preparer(field: models.Field) -> Callable[[Any], Any]:
    """How a value of `field` becomes a database value: as it is for plain numbers, booleans, text
    and keys to integer ids; through the field otherwise (dates, JSON, UUIDs, encrypted text, any
    custom field)."""
    if type(field) in _AS_IS or (type(field) is models.ForeignKey and type(field.target_field) in _AS_IS):
        return lambda value: value
    if type(field) in _TEXT:
        return lambda value: value if value is None or type(value) is str else str(value)
    if type(field) is models.DateTimeField and connection.vendor == "postgresql":
        # an aware datetime is what the driver takes; a naive one goes through the field (and warns)
        return lambda value: value if value is None or value.tzinfo is not None else field.get_db_prep_save(
            value, connection)
    return lambda value: field.get_db_prep_save(value, connection)


def row_values(objs: Sequence[models.Model], fields: Sequence[str]) -> list[list[Any]]:
    """The database values of `fields` of each object, in order."""
    if not objs:
        return []
    prepared = [(f.attname, _preparer(f)) for f in _fields(type(objs[0]), fields)]
    return [[prep(getattr(obj, attname)) for attname, prep in prepared] for obj in objs]


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert rows given as database values of `fields` (see `row_values`), in the caller's
    transaction. No conflict handling: only for rows that cannot exist yet."""
    if not rows:
        return
    q = connection.ops.quote_name
    columns = ", ".join(q(str(f.column)) for f in _fields(model, fields))
    table = q(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)  # noqa: S608


def update_rows(objs: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Save `fields` of many rows of one model in the caller's transaction.

    PostgreSQL: one UPDATE joined to the new values sent as arrays (bound on the server);
    SQLite: one parameterised UPDATE per row, run in process."""
    if not objs:
        return
    meta = type(objs[0])._meta
    columns = _fields(type(objs[0]), fields)
    q = connection.ops.quote_name
    table, pk = q(meta.db_table), q(str(meta.pk.column))
    values = row_values(objs, fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            import psycopg

            names = [q(str(f.column)) for f in columns]
            # binary arrays: the driver packs the values without quoting and escaping each as text
            arrays = ", ".join(f"%b::{f.db_type(connection)}[]" for f in [meta.pk, *columns])
            sql = (f"UPDATE {table} SET " + ", ".join(f"{n} = v.{n}" for n in names)  # noqa: S608
                   + f" FROM unnest({arrays}) AS v({pk}, {', '.join(names)}) WHERE {table}.{pk} = v.{pk}")
            # the driver's own server-binding cursor: the helper does not depend on how the
            # settings make Django's cursors bind
            with psycopg.Cursor(cursor.cursor.connection) as bound:
                bound.execute(sql, [[obj.pk for obj in objs], *map(list, zip(*values, strict=True))])
        else:
            sql = (f"UPDATE {table} SET " + ", ".join(f"{q(str(f.column))} = %s" for f in columns)  # noqa: S608
                   + f" WHERE {pk} = %s")
            cursor.executemany(sql, [row + [obj.pk] for row, obj in zip(values, objs, strict=True)])


def commit_without_waiting_for_disk() -> None:
    """For the rest of the current transaction on PostgreSQL, let its COMMIT return before the
    write-ahead log reaches the disk (synchronous_commit off). Atomicity and order are kept; what a
    crash of the database server in the next fraction of a second can lose is the transaction
    whole, never part of it, and any later durable commit flushes it first. Only for idempotent
    jobs that redo lost work on their next run (the deadline sweep, the notices' fan-out)."""
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
