"""The request path's two writes on PostgreSQL, each one statement that commits on its own.

In a transaction, every statement and the BEGIN and COMMIT around them wait for
a round trip to the server: eight for a delivered lead. Here the lead's insert
runs together with its idempotency key's, and the attempt's insert together
with the lead's update, each as one statement of data-modifying common table
expressions in autocommit mode: two round trips for a delivered lead.

Both statements are idempotent. A statement whose connection broke may or may
not have committed, so it runs once more on a new connection, and a second run
after a committed first one changes nothing and returns the same result.
SQLite has no data-modifying common table expressions, so it keeps group commit.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import BindParameter, Engine, Table, bindparam, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql

from app.store.engine import rerun_if_closed
from app.store.prepared import Prepared
from app.store.tables import attempts, idempotency_keys, leads

# Statements kept per set of row or change columns. Intake and delivery build only a few sets.
STATEMENT_FORMS = 32

# A lead without idempotency keys: a second run finds it inserted and changes nothing.
_INSERT_LEAD = Prepared(postgresql.insert(leads).on_conflict_do_nothing(index_elements=[leads.c.id]))


class StatementWrites:
    """Accept a lead under one idempotency key, and record an attempt, each in one autocommitted statement."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    def accept(self, row: dict[str, Any], key: str | None, *, expires_at: float, now: float) -> bool:
        """Insert the lead unless `key` names another lead whose key is still valid; return whether it is stored.

        A key that expired goes to this lead. A key that already names this lead, as after a first run
        that committed, counts as taken by it.
        """
        if key is None:
            self._run(_INSERT_LEAD, row)
            return True

        values = {**row, "taken_key": key, "taken_lead_id": row["id"], "taken_expires_at": expires_at, "match_now": now}
        return self._run(_accept_with_key(tuple(row)), values) == 1

    def record_attempt(self, lead_id: str, token: int, attempt: dict[str, Any], changes: dict[str, Any]) -> bool:
        """Store the attempt unless it is there, and `changes` if `token` still owns the lead; else return False."""
        values = {
            **{f"set_{name}": value for name, value in changes.items()},
            **{f"attempt_{name}": value for name, value in attempt.items()},
            "attempt_lead_id": lead_id,
            "attempt_claim_token": token,
            "match_id": lead_id,
            "match_token": token,
        }
        return self._run(_record_attempt(tuple(changes), tuple(attempt)), values) == 1

    @rerun_if_closed
    def _run(self, statement: Prepared, values: dict[str, Any]) -> int | None:
        """Run `statement` on its own connection and return its one value, or None when it returns no rows."""
        with self._engine.connect() as connection:
            result = statement.execute(connection, values)
            return result.scalar_one() if result.returns_rows else None


def _typed(table: Table, name: str, prefix: str = "") -> BindParameter:
    """Return a bind parameter for `table`'s column `name`, named with `prefix`."""
    return bindparam(prefix + name, type_=table.c[name].type)


@functools.lru_cache(maxsize=STATEMENT_FORMS)
def _accept_with_key(names: tuple[str, ...]) -> Prepared:
    """Build the statement that takes the key, inserts the lead if it did, and returns 1 if it did, else 0."""
    now = bindparam("match_now", type_=idempotency_keys.c.expires_at.type)
    key_insert = postgresql.insert(idempotency_keys).values(
        {name: _typed(idempotency_keys, name, "taken_") for name in ("key", "lead_id", "expires_at")}
    )
    taken = key_insert.on_conflict_do_update(
        index_elements=[idempotency_keys.c.key],
        set_={"lead_id": key_insert.excluded.lead_id, "expires_at": key_insert.excluded.expires_at},
        where=or_(idempotency_keys.c.expires_at < now, idempotency_keys.c.lead_id == key_insert.excluded.lead_id),
    ).returning(idempotency_keys.c.key).cte("taken")

    lead_values = select(*[_typed(leads, name) for name in names]).where(exists(select(taken.c.key)))
    inserted = (
        postgresql.insert(leads)
        .from_select(list(names), lead_values)
        .on_conflict_do_nothing(index_elements=[leads.c.id])
        .cte("inserted")
    )
    return Prepared(select(func.count()).select_from(taken).add_cte(inserted))


@functools.lru_cache(maxsize=STATEMENT_FORMS)
def _record_attempt(change_names: tuple[str, ...], attempt_names: tuple[str, ...]) -> Prepared:
    """Build the statement that updates the claimed lead, inserts the attempt unless stored, and counts the update."""
    updated = (
        update(leads)
        .where(leads.c.id == bindparam("match_id"), leads.c.claim_token == bindparam("match_token"))
        .values({name: _typed(leads, name, "set_") for name in change_names})
        .returning(leads.c.id)
        .cte("updated")
    )

    columns = ("lead_id", "claim_token", *attempt_names)
    binds = {name: _typed(attempts, name, "attempt_") for name in columns}
    stored = select(attempts.c.id).where(
        attempts.c.lead_id == binds["lead_id"],
        attempts.c.claim_token == binds["claim_token"],
        attempts.c.number == binds["number"],
    )
    inserted = (
        postgresql.insert(attempts)
        .from_select(list(columns), select(*binds.values()).where(~exists(stored)))
        .cte("inserted")
    )
    return Prepared(select(func.count()).select_from(updated).add_cte(inserted))
