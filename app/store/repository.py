"""The store's operations: accept a lead once, claim due leads, record attempts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from app.store.engine import rerun_if_closed
from app.store.prepared import COUNT_ROWS, Prepared
from app.store.search import LeadFilter, PagePosition, select_counts_per_hour, select_leads
from app.store.statement_writes import StatementWrites
from app.store.tables import alert_marks, attempts, customer_holds, idempotency_keys, leads
from app.store.transactions import GroupCommit, SingleTransactions

# Statuses whose leads the worker may still send, when their next_attempt_at is due.
RETRYABLE_STATUSES = ("queued", "failed")

# Statuses no attempt changes any more, so purging them loses no lead in progress.
FINISHED_STATUSES = ("delivered", "duplicate", "rejected", "dead")


# The request path's statements, built once and compiled once per set of value names (app/store/prepared.py).
# WHERE parameters are named unlike any column, because column names carry the VALUES and SET columns.
_INSERT_LEAD = Prepared(insert(leads))
_INSERT_ATTEMPT = Prepared(insert(attempts))
_ATTEMPT_STORED = Prepared(
    select(attempts.c.id)
    .where(
        attempts.c.lead_id == bindparam("match_id"),
        attempts.c.claim_token == bindparam("match_token"),
        attempts.c.number == bindparam("match_number"),
    )
    .limit(1)
)
_KEY_INSERTS = {
    "postgresql": Prepared(postgresql.insert(idempotency_keys).on_conflict_do_nothing()),
    "sqlite": Prepared(sqlite.insert(idempotency_keys).on_conflict_do_nothing()),
}
_RENEW_KEY = Prepared(
    update(idempotency_keys).where(
        idempotency_keys.c.key == bindparam("match_key"), idempotency_keys.c.expires_at < bindparam("match_now")
    )
)
_KEY_OWNER = Prepared(select(idempotency_keys.c.lead_id).where(idempotency_keys.c.key == bindparam("match_key")))
_UPDATE_CLAIMED = Prepared(
    update(leads).where(leads.c.id == bindparam("match_id"), leads.c.claim_token == bindparam("match_token"))
)
_SAVE_ANSWER = Prepared(update(leads).where(leads.c.id == bindparam("match_id"), leads.c.answer_status.is_(None)))
_GET_LEAD = select(leads).where(leads.c.id == bindparam("match_id"))
_HOLDS = select(customer_holds)


class StoreUnavailable(Exception):
    """The store could not commit or read; nothing was forwarded."""


@dataclass(frozen=True)
class Accepted:
    """The outcome of accepting a request: its own new lead, or the first lead of a repeat."""

    lead_id: str
    repeat: bool


@dataclass(frozen=True)
class Claim:
    """A lead a worker or request owns until `lease_until`; writes must carry `token`."""

    lead_id: str
    token: int
    was_abandoned: bool


class _KeyTaken(Exception):
    """An idempotency key already names an earlier lead; raised to roll the accept back."""

    def __init__(self, lead_id: str) -> None:
        super().__init__(lead_id)
        self.lead_id = lead_id


def _wrap_errors(function):
    def wrapped(store: Store, *args, **kwargs):
        try:
            return function(store, *args, **kwargs)
        except SQLAlchemyError as error:
            if isinstance(error, OperationalError):
                # A pooled connection may be the problem (SQLite opened read-only, a server restart):
                # start the next operation on fresh connections.
                store.engine.dispose()
            raise StoreUnavailable(f"the store failed: {type(error).__name__}: {_driver_message(error)}") from error

    wrapped.__name__ = function.__name__
    wrapped.__doc__ = function.__doc__
    return wrapped


def _claimed_changes(claim: Claim, changes: dict[str, Any]) -> dict[str, Any]:
    """Return the parameters of _UPDATE_CLAIMED: the changed columns, the lease ended, and the claim to match."""
    return {**changes, "lease_until": None, "match_id": claim.lead_id, "match_token": claim.token}


def _driver_message(error: SQLAlchemyError) -> str:
    # The driver's own first line names the fault without the statement or its parameters,
    # which would carry personal data into the log.
    original = getattr(error, "orig", None) or error
    return str(original).splitlines()[0][:200] if str(original) else ""


class Store:
    """Leads, attempts, idempotency keys and customer holds, on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name
        self._transactions = GroupCommit(engine) if self._dialect == "sqlite" else SingleTransactions(engine)
        # The request path's writes as single statements, where the database can run them (PostgreSQL).
        self._statements = StatementWrites(engine) if self._dialect == "postgresql" else None
        self._holds_cache: tuple[float, frozenset[str]] | None = None

    def _write(self, work: Callable[[Connection], Any]) -> Any:
        """Run `work` in a write transaction and return its result once committed."""
        return self._transactions.run(work)

    # --- intake -------------------------------------------------------------

    @_wrap_errors
    def accept(
        self, row: dict[str, Any], key: str | None, *, key_ttl: float, now: float, extra_keys: Sequence[str] = ()
    ) -> Accepted:
        """Insert a lead unless one of its idempotency keys names an earlier one.

        One transaction decides, or on PostgreSQL with at most one key, one statement.

        `extra_keys` are kept next to `key`; a request is a repeat when any of them is taken.
        """
        # Sorted, so two requests sharing keys take them in one order and cannot deadlock.
        keys = sorted({each for each in (key, *extra_keys) if each})
        if self._statements is not None and len(keys) <= 1:
            return self._accept_in_one_statement(row, keys[0] if keys else None, key_ttl=key_ttl, now=now)

        def insert_lead(connection: Connection) -> None:
            for candidate in keys:
                first = self._take_key(connection, candidate, row["id"], now=now, ttl=key_ttl)
                if first is not None:
                    raise _KeyTaken(first)
            _INSERT_LEAD.execute(connection, row)

        try:
            self._write(insert_lead)
        except _KeyTaken as taken:
            # The transaction rolled back, so no key this request took before the match is kept.
            return Accepted(lead_id=taken.lead_id, repeat=True)
        return Accepted(lead_id=row["id"], repeat=False)

    def _accept_in_one_statement(self, row: dict[str, Any], key: str | None, *, key_ttl: float, now: float) -> Accepted:
        if self._statements.accept(row, key, expires_at=now + key_ttl, now=now):
            return Accepted(lead_id=row["id"], repeat=False)
        return Accepted(lead_id=self._key_owner(key), repeat=True)

    @rerun_if_closed
    def _key_owner(self, key: str) -> str:
        with self.engine.connect() as connection:
            return _KEY_OWNER.execute(connection, {"match_key": key}).scalar_one()

    def _take_key(self, connection: Connection, key: str, lead_id: str, *, now: float, ttl: float) -> str | None:
        values = {"lead_id": lead_id, "expires_at": now + ttl}
        taken = _KEY_INSERTS[self._dialect].execute(connection, {"key": key, **values}, count_rows=True)
        if taken.rowcount == 1:
            return None

        # An expired key goes to the first request that renews it.
        renewed = _RENEW_KEY.execute(connection, {"match_key": key, "match_now": now, **values})
        if renewed.rowcount == 1:
            return None
        return _KEY_OWNER.execute(connection, {"match_key": key}).scalar_one()

    @_wrap_errors
    def save_answer(self, lead_id: str, status: int, body: dict[str, Any]) -> None:
        """Keep the first answer given for a lead, so repeats get the same one."""
        values = {"match_id": lead_id, "answer_status": status, "answer_body": json.dumps(body)}
        self._write(lambda connection: _SAVE_ANSWER.execute(connection, values))

    @_wrap_errors
    @rerun_if_closed
    def get(self, lead_id: str) -> dict[str, Any] | None:
        """Return a lead's row as a dict, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(_GET_LEAD, {"match_id": lead_id}).mappings().first()
        return dict(row) if row else None

    @_wrap_errors
    @rerun_if_closed
    def attempts_of(self, lead_id: str) -> list[dict[str, Any]]:
        """Return a lead's attempts, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(attempts).where(attempts.c.lead_id == lead_id).order_by(attempts.c.id)
            ).mappings()
            return [dict(row) for row in rows]

    # --- delivery -----------------------------------------------------------

    @_wrap_errors
    def claim_due(self, *, now: float, lease: float, limit: int) -> list[Claim]:
        """Claim up to `limit` due leads of customers not on hold, bumping each fencing token."""
        held = select(customer_holds.c.customer)
        due = (
            select(leads.c.id, leads.c.lease_until)
            .where(
                leads.c.status.in_(RETRYABLE_STATUSES),
                leads.c.next_attempt_at <= now,
                or_(leads.c.lease_until.is_(None), leads.c.lease_until < now),
                or_(leads.c.customer.is_(None), leads.c.customer.not_in(held)),
            )
            .order_by(leads.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

        def claim(connection: Connection) -> list[Claim]:
            claims = []
            for lead_id, lease_until in connection.execute(due).all():
                token = connection.execute(
                    update(leads)
                    .where(leads.c.id == lead_id)
                    .values(claim_token=leads.c.claim_token + 1, lease_until=now + lease, updated_at=now)
                    .returning(leads.c.claim_token)
                ).scalar_one()
                claims.append(Claim(lead_id=lead_id, token=token, was_abandoned=lease_until is not None))
            return claims

        return self._write(claim)

    @_wrap_errors
    def record_attempt(
        self, claim: Claim, attempt: dict[str, Any], changes: dict[str, Any], *, again: bool = False
    ) -> bool:
        """Store an attempt and the lead's new state; False when a newer claim owns the lead.

        `again` is for a second try after the store failed: the first try's commit may have been
        stored, so the attempt is inserted only when it is not there yet.
        """

        if self._statements is not None:
            # The statement inserts the attempt only if no try stored it yet, so `again` is not needed here.
            changed = {**changes, "lease_until": None}
            return self._statements.record_attempt(claim.lead_id, claim.token, attempt, changed)

        def record(connection: Connection) -> bool:
            updated = _UPDATE_CLAIMED.execute(connection, _claimed_changes(claim, changes))
            recorded = again and self._attempt_stored(connection, claim, attempt["number"])
            if not recorded:
                _INSERT_ATTEMPT.execute(connection, {"lead_id": claim.lead_id, "claim_token": claim.token, **attempt})
            return updated.rowcount == 1

        return self._write(record)

    @staticmethod
    def _attempt_stored(connection: Connection, claim: Claim, number: int) -> bool:
        match = {"match_id": claim.lead_id, "match_token": claim.token, "match_number": number}
        return _ATTEMPT_STORED.execute(connection, match).first() is not None

    @_wrap_errors
    def release(self, claim: Claim, changes: dict[str, Any]) -> bool:
        """Update a claimed lead without an attempt (it was held back); False when stale."""
        changed = _claimed_changes(claim, changes)
        return self._write(lambda connection: _UPDATE_CLAIMED.execute(connection, changed).rowcount == 1)

    @_wrap_errors
    def abandon(self, claim: Claim, *, now: float) -> bool:
        """End a claim's lease now, for a worker that stops before its attempt finished.

        The abandoned attempt may have reached PhoneBurner, so the next claim
        counts as a takeover and the lead as ambiguous, as after a crash.
        Returns False when the attempt was recorded or a newer claim owns the lead.
        """
        end_lease = (
            update(leads)
            .where(leads.c.id == claim.lead_id, leads.c.claim_token == claim.token)
            .where(leads.c.lease_until.is_not(None))
            .values(lease_until=now, updated_at=now)
        )
        return self._write(lambda connection: connection.execute(end_lease).rowcount == 1)

    @_wrap_errors
    @rerun_if_closed
    def queue_backlog(self) -> tuple[int, float | None]:
        """Return how many leads are queued and when the oldest was created, leaving out customers on hold."""
        held = select(customer_holds.c.customer)
        query = select(func.count(), func.min(leads.c.created_at)).where(
            leads.c.status == "queued",
            or_(leads.c.customer.is_(None), leads.c.customer.not_in(held)),
        )
        with self.engine.connect() as connection:
            count, oldest = connection.execute(query).one()
        return count, oldest

    # --- customers ----------------------------------------------------------

    @_wrap_errors
    def hold(self, customer: str, reason: str, *, now: float) -> bool:
        """Put a customer on hold; False when it already was."""
        dialect_insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        add_hold = (
            dialect_insert(customer_holds)
            .values(customer=customer, reason=reason, held_at=now)
            .on_conflict_do_nothing()
        )

        def insert_hold(connection: Connection) -> bool:
            return connection.execute(add_hold, execution_options=COUNT_ROWS).rowcount == 1

        added = self._write(insert_hold)
        self._holds_cache = None
        return added

    @_wrap_errors
    @rerun_if_closed
    def holds(self) -> dict[str, dict[str, Any]]:
        """Return the customers on hold with their reason and time."""
        with self.engine.connect() as connection:
            rows = connection.execute(_HOLDS).mappings()
            return {row["customer"]: dict(row) for row in rows}

    def held_customers(self, *, max_age: float) -> frozenset[str]:
        """Return the names of the customers on hold, read from the store at most once every `max_age` seconds.

        Holds set or lifted by this process show at once; those of other processes after `max_age` at most.
        """
        now = time.monotonic()
        cached = self._holds_cache
        if cached is not None and now - cached[0] < max_age:
            return cached[1]
        customers = frozenset(self.holds())
        self._holds_cache = (now, customers)
        return customers

    @_wrap_errors
    def resume(self, customer: str, *, now: float) -> tuple[bool, int]:
        """Lift a hold and requeue the customer's leads that failed on a configuration fault.

        Returns whether the customer was on hold and how many leads were requeued.
        """

        def lift(connection: Connection) -> tuple[bool, int]:
            lifted = connection.execute(delete(customer_holds).where(customer_holds.c.customer == customer))
            requeued = connection.execute(
                update(leads)
                .where(leads.c.customer == customer, leads.c.status == "failed", leads.c.last_class == "config_fault")
                .values(status="queued", next_attempt_at=now, updated_at=now)
            )
            return lifted.rowcount == 1, requeued.rowcount

        outcome = self._write(lift)
        self._holds_cache = None
        return outcome

    # --- alerts -------------------------------------------------------------

    @_wrap_errors
    def take_alert_slot(self, key: str, *, now: float, interval: float) -> bool:
        """Mark the alert `key` as sent now, unless it was sent less than `interval` seconds ago.

        Returns True for the one caller that may send it, whichever process or host calls.
        """
        dialect_insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert

        def take(connection: Connection) -> bool:
            taken = connection.execute(
                dialect_insert(alert_marks).values(key=key, sent_at=now).on_conflict_do_nothing(),
                execution_options=COUNT_ROWS,
            )
            if taken.rowcount == 1:
                return True
            renewed = connection.execute(
                update(alert_marks)
                .where(alert_marks.c.key == key, alert_marks.c.sent_at <= now - interval)
                .values(sent_at=now)
            )
            return renewed.rowcount == 1

        return self._write(take)

    # --- operators ----------------------------------------------------------

    @_wrap_errors
    @rerun_if_closed
    def find(
        self,
        *,
        status: str | None = None,
        source: str | None = None,
        customer: str | None = None,
        since: float | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Return leads matching every given filter, newest first."""
        conditions = []
        if status:
            conditions.append(leads.c.status == status)
        if source:
            conditions.append(leads.c.source == source)
        if customer:
            conditions.append(leads.c.customer == customer)
        if since is not None:
            conditions.append(leads.c.created_at >= since)
        query = select(leads).where(and_(True, *conditions)).order_by(leads.c.created_at.desc()).limit(limit)
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    @_wrap_errors
    def requeue(self, lead_ids: list[str], *, now: float) -> list[str]:
        """Queue failed or dead leads for delivery again; return the ids requeued."""
        requeue = (
            update(leads)
            .where(leads.c.id.in_(lead_ids), leads.c.status.in_(("failed", "dead")))
            .values(status="queued", attempts=0, next_attempt_at=now, updated_at=now)
            .returning(leads.c.id)
        )
        return self._write(lambda connection: list(connection.execute(requeue).scalars()))

    @_wrap_errors
    def purge(self, *, before: float) -> int:
        """Delete finished leads created before `before` (personal data must not live forever).

        Queued and failed leads are kept whatever their age: they may still be delivered.
        """
        finished = and_(leads.c.created_at < before, leads.c.status.in_(FINISHED_STATUSES))

        def delete_finished(connection: Connection) -> int:
            old = select(leads.c.id).where(finished)
            connection.execute(delete(attempts).where(attempts.c.lead_id.in_(old)))
            connection.execute(delete(idempotency_keys).where(idempotency_keys.c.lead_id.in_(old)))
            deleted = connection.execute(delete(leads).where(finished))
            connection.execute(delete(idempotency_keys).where(idempotency_keys.c.expires_at < time.time()))
            return deleted.rowcount

        return self._write(delete_finished)

    @_wrap_errors
    @rerun_if_closed
    def counts(self) -> dict[str, int]:
        """Return how many leads have each status."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(leads.c.status, func.count()).group_by(leads.c.status)).all()
        return {status: count for status, count in rows}

    @_wrap_errors
    @rerun_if_closed
    def counts_created_before(self, before: float) -> dict[str, int]:
        """Return how many leads created before `before` have each status: what `purge` would delete."""
        old = and_(leads.c.created_at < before, leads.c.status.in_(FINISHED_STATUSES))
        query = select(leads.c.status, func.count()).where(old).group_by(leads.c.status)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return {status: count for status, count in rows}

    @_wrap_errors
    @rerun_if_closed
    def count_expired_keys(self, *, now: float) -> int:
        """Return how many idempotency keys expired before `now`."""
        query = select(func.count()).select_from(idempotency_keys).where(idempotency_keys.c.expires_at < now)
        with self.engine.connect() as connection:
            return connection.execute(query).scalar_one()

    @_wrap_errors
    @rerun_if_closed
    def counts_by_customer(self) -> dict[str, dict[str, int]]:
        """Return how many leads each customer has in each status, leaving out leads without a customer."""
        query = (
            select(leads.c.customer, leads.c.status, func.count())
            .where(leads.c.customer.is_not(None))
            .group_by(leads.c.customer, leads.c.status)
        )
        counts: dict[str, dict[str, int]] = {}
        with self.engine.connect() as connection:
            for customer, status, count in connection.execute(query).all():
                counts.setdefault(customer, {})[status] = count
        return counts

    # --- console ------------------------------------------------------------

    @_wrap_errors
    @rerun_if_closed
    def search(self, lead_filter: LeadFilter, *, after: PagePosition | None = None, limit: int = 50) -> list[dict]:
        """Return up to `limit` leads matching the filter, newest first, starting after `after`."""
        query = select_leads(lead_filter, after=after, limit=limit)
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    @_wrap_errors
    @rerun_if_closed
    def counts_per_hour(self, *, since: float) -> list[tuple[int, str, int]]:
        """Return (hour, status, count) for leads created since `since`, an hour being Unix seconds // 3600."""
        query = select_counts_per_hour(self._dialect, since=since)
        with self.engine.connect() as connection:
            return [(hour, status, count) for hour, status, count in connection.execute(query).all()]
