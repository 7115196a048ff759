"""Params and results of the ``db.*`` methods (msgspec Structs: they validate
requests and generate the schemas ``rpc.discover`` shows)."""

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

SqlText = Annotated[str, Meta(min_length=1)]
QueryParamValues = list[Any] | dict[str, Any] | None
QueryLayout = Literal["rows", "columns"]


class Column(Struct):
    """name: the column's name. type: DuckDB's type, as DuckDB spells it (``DECIMAL(18,3)``, ``INTEGER[]``)."""

    name: str
    type: str


class QueryParams(Struct, forbid_unknown_fields=True):
    """sql: one or more statements (the last one's rows are returned).
    params: values for ``?``/``$1`` (array) or ``$name`` (object) placeholders; one statement only.
    limit: most rows returned (default and maximum are the settings query_default_limit and query_max_limit).
    timeout_ms: stop the query (interrupted) after this long; the error is -32004.
    allow_write: false (default) runs in a READ ONLY transaction and accepts only SELECT-like and EXPLAIN statements.
    layout: "rows" (default): ``rows`` holds one array of values per row; "columns": ``rows`` is empty and
    ``data`` holds one array of values per column, in the rows' order (the same values, transposed).
    """

    sql: SqlText
    params: QueryParamValues = None
    limit: Annotated[int, Meta(ge=0)] | None = None
    timeout_ms: Annotated[int, Meta(gt=0)] | None = None
    allow_write: bool = False
    layout: QueryLayout = "rows"


class QueryResult(Struct, omit_defaults=True):
    """columns: name and DuckDB type of each column. rows: arrays of JSON values (see the value table);
    empty in the columns layout. data: only in the columns layout, one array of JSON values per column.
    row_count: rows returned. truncated: true if the statement had more rows than ``limit``.
    elapsed_ms: time spent in DuckDB, fetching included.
    """

    columns: list[Column]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    elapsed_ms: float
    # Each column is a list of values or, when DuckDB wrote its JSON, that text (msgspec.Raw).
    data: list[list[Any]] | None = None


ExportFormat = Literal["parquet", "csv", "json"]


class ExportParams(Struct, forbid_unknown_fields=True):
    """sql: one SELECT-like statement. format: parquet, csv (with a header) or json (one object per line).
    path: where to write: relative to the data dir's ``exports`` folder, or absolute inside it or inside
    a path the host granted for writing (files.grant), else forbidden_path; default a new file in exports/. An existing file is replaced only when the export succeeded.
    params: placeholder values, as for db.query. timeout_ms: as for db.query.
    """

    sql: SqlText
    format: ExportFormat = "parquet"
    path: str | None = None
    params: QueryParamValues = None
    timeout_ms: Annotated[int, Meta(gt=0)] | None = None


class ExportResult(Struct):
    """path: the absolute path written. bytes: its size. row_count: rows written. elapsed_ms: time taken."""

    path: str
    bytes: int
    row_count: int
    elapsed_ms: float


class TableInfo(Struct):
    """schema, name: where the table is. kind: table or view. column_count: columns.
    estimated_rows: DuckDB's estimate (exact for tables after a checkpoint; null for views).
    """

    schema: str
    name: str
    kind: Literal["table", "view"]
    column_count: int
    estimated_rows: int | None


class TablesResult(Struct):
    """tables: every user table and view in the engine database."""

    tables: list[TableInfo]


class DescribeParams(Struct, forbid_unknown_fields=True):
    """table: the table or view name. schema: its schema (default main)."""

    table: Annotated[str, Meta(min_length=1)]
    schema: str = "main"


class ColumnInfo(Struct):
    """name, type: as in DuckDB. nullable: false for NOT NULL columns. default: the default expression, if any."""

    name: str
    type: str
    nullable: bool
    default: str | None


class DescribeResult(Struct):
    """schema, name, kind: the object described. columns: in table order.
    row_count: exact count for tables, null for views.
    """

    schema: str
    name: str
    kind: Literal["table", "view"]
    columns: list[ColumnInfo]
    row_count: int | None
