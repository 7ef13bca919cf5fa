"""The request path's statements, compiled once and run through the driver.

`Connection.execute` prepares each statement again on every call: it builds
the statement's cache key, finds its compiled form in SQLAlchemy's cache,
binds the values by name, and sets up the result's type processing. For the
few short statements that each lead runs, that took about a fifth of the
store's CPU time per lead (bench/store-cpu). `exec_driver_sql` skips those
steps and keeps the ones that matter here: the driver's errors are raised
as SQLAlchemy's, and a connection that the server closed is invalidated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import BindParameter, Connection, CursorResult, Executable
from sqlalchemy.engine import Dialect

# Compiled forms a statement keeps, one per dialect and set of value names. A caller that passes more
# sets than this still runs correctly, but compiles its statement again on each call.
MAX_FORMS = 32

# Execution options that keep an INSERT's rowcount: SQLAlchemy 2.1 keeps it only when asked, and psycopg
# reports -1 without it.
COUNT_ROWS = {"preserve_rowcount": True}


class Prepared:
    """One statement, compiled once for each dialect and set of value names it runs with.

    The values of INSERT and UPDATE statements that name a column of their table
    become its VALUES or SET columns, as with `Connection.execute`. The other
    values fill the statement's own bind parameters, which must be named unlike
    any column. Unlike `Connection.execute`, it does not fill in a column's
    Python-side `default`: an INSERT must give every such column a value, or
    it fails with ValueError naming the column.
    """

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._forms: dict[tuple[str, str, tuple[str, ...]], _Compiled] = {}

    def execute(self, connection: Connection, values: Mapping[str, Any], *, count_rows: bool = False) -> CursorResult:
        """Run the statement on `connection` with `values`. `count_rows` keeps an INSERT's rowcount."""
        compiled = self._compiled(connection.dialect, tuple(values))
        options = COUNT_ROWS if count_rows else None
        return connection.exec_driver_sql(compiled.sql, compiled.parameters(values), execution_options=options)

    def _compiled(self, dialect: Dialect, names: tuple[str, ...]) -> _Compiled:
        key = (dialect.name, dialect.driver, names)
        compiled = self._forms.get(key)
        if compiled is None:
            compiled = _Compiled(self.statement, dialect, names)
            if len(self._forms) < MAX_FORMS:
                self._forms[key] = compiled
        return compiled


class _Compiled:
    """A statement's SQL for one dialect, and how to turn a dict of values into the driver's parameters."""

    __slots__ = ("_binds", "_positional", "sql")

    def __init__(self, statement: Executable, dialect: Dialect, names: tuple[str, ...]) -> None:
        table = getattr(statement, "table", None)
        columns = [name for name in names if table is not None and name in table.c]
        compiled = statement.compile(dialect=dialect, column_keys=columns)

        self.sql = compiled.string
        self._positional = dialect.positional
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        order = compiled.positiontup if dialect.positional else list(binds)
        # A bind parameter that the statement gives a value, such as LIMIT's, keeps it unless `values` names it.
        missing = sorted(name for name in order if name not in names and binds[name].effective_value is None)
        if missing:
            raise ValueError(f"no value for the statement's parameters {missing}: {self.sql}")

        # Per parameter: its name, whether `values` gives it, the statement's own value, and its type processing.
        self._binds: list[tuple[str, bool, Any, Callable[[Any], Any] | None]] = [
            (name, name in names, binds[name].effective_value, _bind_processor(binds[name], dialect)) for name in order
        ]

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """Return `values` as the driver's parameters: a tuple for positional paramstyles, else a dict."""
        converted = []
        for name, from_values, constant, process in self._binds:
            value = values[name] if from_values else constant
            converted.append((name, process(value) if process is not None else value))
        if self._positional:
            return tuple(value for _name, value in converted)
        return dict(converted)


def _bind_processor(bind: BindParameter, dialect: Dialect) -> Callable[[Any], Any] | None:
    """Return the type processing that `Connection.execute` would apply to the parameter, such as SQLite's float()."""
    return bind.type.dialect_impl(dialect).bind_processor(dialect)
