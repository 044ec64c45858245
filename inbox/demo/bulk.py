"""Bulk writes for the demo loader: COPY on PostgreSQL, `bulk_create` elsewhere (SQLite)."""

import json
from collections.abc import Sequence

from django.db import connection, models


def ids_reserve(model: type[models.Model], count: int) -> Sequence[int]:
    """`count` fresh primary keys for `model`, so related rows can be built before inserting."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        # The batch's write transaction holds the database lock (BEGIN IMMEDIATE on SQLite),
        # so nobody else can take these ids before we insert them.
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")
        start = cursor.fetchone()[0] + 1
    return range(start, start + count)


def rows_insert(model: type[models.Model], columns: Sequence[str], rows: list[tuple]) -> None:
    """Insert `rows`: tuples of values for the model attributes `columns`."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**dict(zip(columns, row, strict=True))) for row in rows])
        return
    # Fields the caller leaves out get their model defaults, as with bulk_create (columns
    # left out of the COPY are NULL, so None defaults need no column).
    omitted = [f for f in model._meta.concrete_fields
               if f.attname not in columns and not f.primary_key
               and (callable(f.default) or f.get_default() is not None)]
    defaults_per_row = any(callable(f.default) for f in omitted)
    defaults = tuple(f.get_default() for f in omitted)
    fields = [*(model._meta.get_field(name) for name in columns), *omitted]
    json_positions = [i for i, f in enumerate(fields) if f.get_internal_type() == "JSONField"]
    quote = connection.ops.quote_name
    sql = (f"COPY {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
           "FROM STDIN")
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            if omitted:
                if defaults_per_row:
                    defaults = tuple(f.get_default() for f in omitted)
                row = (*row, *defaults)
            if json_positions:
                row = list(row)
                for position in json_positions:
                    row[position] = json.dumps(row[position], ensure_ascii=False)
            copy.write_row(row)


def foreign_key_checks_skip() -> None:
    """For the rest of this transaction, skip PostgreSQL's per-row foreign-key triggers, as
    pg_restore does: they cost a third of a big load, and the loader's references hold by
    construction (ids reserved by the batch itself or read from the demo workspace). Unique
    and check constraints still apply. Only superusers may; for others this is a no-op."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW is_superuser")
        if cursor.fetchone()[0] == "on":
            cursor.execute("SET LOCAL session_replication_role = replica")


def tables_analyze(model_classes: Sequence[type[models.Model]]) -> None:
    """Fresh planner statistics after a bulk load (PostgreSQL's autovacuum lags behind)."""
    if connection.vendor != "postgresql":
        return
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in model_classes)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")
