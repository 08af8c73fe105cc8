"""How a PostgreSQL or MariaDB column is read into Arrow: one explicit table, both read paths.

Each reflected column gets a :class:`ColumnRead`: the expression the query selects in its place
(a server-side conversion where the driver's own value would lose information), the Arrow type
of the bronze column, the conversion of a driver value on the row path, and whether the
Arrow-native path (ADBC) gives the selected value exactly as the row path does. A type with no
entry of its own is read as the server's text form of its values, so no column type stops an
ingest. docs/database-types.md lists the mapping; docs/adr/0014-database-column-types.md says
why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

INTERVAL = pa.struct([("months", pa.int32()), ("days", pa.int32()), ("microseconds", pa.int64())])
"""A PostgreSQL interval as the server keeps it: months, days and microseconds, each signed."""


class Geometry(sa.types.UserDefinedType[bytes]):
    """A spatial column (MariaDB's geometry types, PostGIS ``geometry`` and ``geography``)."""

    cache_ok = True

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Accept and ignore the reflected type arguments (subtype, SRID)."""

    def get_col_spec(self, **kw: Any) -> str:
        """The type's name in DDL."""
        return "GEOMETRY"


# Type names the SQLAlchemy dialects do not know; every other unknown one is read as text.
_GEOMETRY_NAMES = {
    "mysql": ["geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
              "multipolygon", "geometrycollection"],
    "postgresql": ["geometry", "geography"],
}  # fmt: skip


def register_types(dialect: sa.Dialect) -> None:
    """Let ``dialect`` reflect the spatial types (on this dialect object only)."""
    names = _GEOMETRY_NAMES.get(dialect.name, [])
    known: dict[str, Any] = dialect.ischema_names  # type: ignore[attr-defined]
    dialect.ischema_names = {**known, **dict.fromkeys(names, Geometry)}  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ColumnRead:
    """How one column is selected, typed and converted."""

    select: sa.ColumnElement[Any]
    arrow: pa.DataType
    convert: Callable[[Any], Any] | None = None
    native: bool = True


def column_read(column: sa.Column[Any], dialect: str) -> ColumnRead:
    """The read of ``column`` on a server of ``dialect`` (``postgresql``, ``mysql``, ...)."""
    return _read(column, column.type, dialect)


def _read(column: sa.ColumnElement[Any], sql: sa.types.TypeEngine[Any], dialect: str) -> ColumnRead:
    if isinstance(sql, postgresql.DOMAIN):
        return _read(column, sql.data_type, dialect)
    for kind, rule in _RULES:
        if isinstance(sql, kind):
            return rule(column, sql, dialect)
    plain = _plain_type(sql)
    if plain is not None:
        return ColumnRead(column, plain)
    return _as_text(column)


def _plain_type(sql: sa.types.TypeEngine[Any]) -> pa.DataType | None:
    """The Arrow type of a type both drivers give as a plain Python value, else ``None``."""
    if isinstance(sql, sa.DateTime):
        return pa.timestamp("us", tz="UTC" if sql.timezone else None)
    if isinstance(sql, sa.Numeric) and not isinstance(sql, sa.Float):
        if sql.precision is None:
            return pa.decimal128(38, 10)
        return pa.decimal128(sql.precision, sql.scale or 0) if sql.precision <= 38 else None
    if isinstance(sql, mysql.BIGINT) and sql.unsigned:
        return pa.decimal128(20, 0)
    for kind, arrow in _PLAIN:
        if isinstance(sql, kind):
            return arrow
    return None


_PLAIN: list[tuple[type[sa.types.TypeEngine[Any]], pa.DataType]] = [
    (sa.Boolean, pa.bool_()),
    (sa.SmallInteger, pa.int16()),
    (sa.Integer, pa.int64()),
    (sa.Float, pa.float64()),
    (sa.Date, pa.date32()),
    (mysql.YEAR, pa.int16()),
    (sa.LargeBinary, pa.binary()),
    (sa.BINARY, pa.binary()),
    (sa.VARBINARY, pa.binary()),
    (mysql.TINYBLOB, pa.binary()),
    (mysql.MEDIUMBLOB, pa.binary()),
    (mysql.LONGBLOB, pa.binary()),
    (sa.String, pa.string()),
]


def _as_text(column: sa.ColumnElement[Any]) -> ColumnRead:
    """The server's own text form of the values (``CAST(... AS TEXT)``, ``AS CHAR`` on MySQL)."""
    return ColumnRead(sa.cast(column, sa.Text), pa.string())


def _array(column: sa.ColumnElement[Any], sql: Any, dialect: str) -> ColumnRead:
    """A list per dimension around the element's type; elements read as text unless plain."""
    element = None if isinstance(sql.item_type, sa.Enum) else _plain_type(sql.item_type)
    depth = sql.dimensions or 1
    select: sa.ColumnElement[Any] = column
    if element is None:
        element = pa.string()
        select = sa.cast(column, postgresql.ARRAY(sa.Text, dimensions=sql.dimensions))
    arrow = element
    for _ in range(depth):
        arrow = pa.list_(arrow)
    return ColumnRead(select, arrow, native=False)  # ADBC flattens arrays of more dimensions


def _interval(column: sa.ColumnElement[Any], sql: Any, dialect: str) -> ColumnRead:
    """Months, days and microseconds as the server keeps them (the driver folds months)."""
    if dialect != "postgresql":
        return _as_text(column)
    part = {f: sa.extract(f, column) for f in ("year", "month", "day", "hour", "minute")}
    hour, minute = (sa.literal(n, sa.BigInteger) for n in (3_600_000_000, 60_000_000))
    micros = part["hour"] * hour + part["minute"] * minute
    parts = [
        part["year"] * 12 + part["month"],
        part["day"],
        micros + sa.extract("microseconds", column),
    ]
    select = sa.cast(postgresql.array(parts), postgresql.ARRAY(sa.BigInteger))
    return ColumnRead(select, INTERVAL, convert=_interval_value, native=False)


def _interval_value(parts: list[int | None]) -> dict[str, int | None] | None:
    if parts[0] is None:  # the interval is NULL
        return None
    months, days, microseconds = parts
    return {"months": months, "days": days, "microseconds": microseconds}


def _time(column: sa.ColumnElement[Any], sql: Any, dialect: str) -> ColumnRead:
    """``[-]HH:MM:SS.ffffff``: Delta has no time type; MariaDB's TIME is a signed duration."""
    if dialect == "postgresql" and not sql.timezone:
        return ColumnRead(sa.func.to_char(column, "HH24:MI:SS.US"), pa.string())
    if dialect == "mysql":
        return ColumnRead(sa.func.time_format(column, "%H:%i:%s.%f"), pa.string())
    return _as_text(column)


def _inet(column: sa.ColumnElement[Any], sql: Any, dialect: str) -> ColumnRead:
    """The address as PostgreSQL shows it: the text cast would add ``/32`` to a host."""
    return ColumnRead(sa.func.abbrev(column, type_=sa.Text), pa.string())


def _money(column: sa.ColumnElement[Any], sql: Any, dialect: str) -> ColumnRead:
    """The amount as a decimal (the driver gives locale-formatted text such as ``$1,234.56``)."""
    return ColumnRead(sa.cast(column, sa.Numeric), pa.decimal128(19, 2))


def _bits(column: sa.ColumnElement[Any], sql: Any, dialect: str) -> ColumnRead:
    """A string of ``0`` and ``1``, as long as the column's bit length."""
    if dialect == "mysql":
        return ColumnRead(sa.func.lpad(sa.func.bin(column), sql.length or 1, "0"), pa.string())
    return _as_text(column)


def _set(column: sa.ColumnElement[Any], sql: Any, dialect: str) -> ColumnRead:
    """The members present, in the order the column declares them."""
    order = {value: i for i, value in enumerate(sql.values)}

    def members(value: set[str] | None) -> list[str] | None:
        return None if value is None else sorted(value, key=order.__getitem__)

    return ColumnRead(column, pa.list_(pa.string()), convert=members, native=False)


def _geometry(column: sa.ColumnElement[Any], sql: Any, dialect: str) -> ColumnRead:
    """Well-known binary (ISO WKB); the SRID is not part of it."""
    return ColumnRead(sa.func.ST_AsBinary(column, type_=sa.LargeBinary), pa.binary())


def _text(column: sa.ColumnElement[Any], sql: Any, dialect: str) -> ColumnRead:
    return _as_text(column)


_Rule = Callable[[sa.ColumnElement[Any], Any, str], ColumnRead]

# First match wins: these come before the plain types some of them derive from.
_RULES: list[tuple[type[Any], _Rule]] = [
    (Geometry, _geometry),
    (sa.ARRAY, _array),
    (sa.Interval, _interval),
    (postgresql.INTERVAL, _interval),
    (sa.Time, _time),
    (postgresql.INET, _inet),
    (postgresql.MONEY, _money),
    (postgresql.BIT, _bits),
    (mysql.BIT, _bits),
    (mysql.SET, _set),
    (sa.Enum, _text),
    (sa.JSON, _text),
    (sa.Uuid, _text),
    (sa.types.NullType, _text),
]


def with_array_dimensions(conn: sa.Connection, table: sa.Table) -> None:
    """Give ``table``'s PostgreSQL array columns the dimensions they were declared with.

    SQLAlchemy reflects every array as one-dimensional; ``pg_attribute.attndims`` keeps the
    declared number.
    """
    if not any(isinstance(c.type, sa.ARRAY) for c in table.columns):
        return
    name = conn.dialect.identifier_preparer.format_table(table)
    query = sa.text(
        "SELECT attname, attndims FROM pg_attribute"
        " WHERE attrelid = CAST(:name AS regclass) AND attndims > 1 AND NOT attisdropped"
    )
    for column, dimensions in conn.execute(query, {"name": name}):
        item = table.c[column].type.item_type
        table.c[column].type = postgresql.ARRAY(item, dimensions=dimensions)
