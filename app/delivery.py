"""Attempts: send a claimed lead to PhoneBurner, store the attempt, move the lead on."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app import metrics
from app.alerts import Alerter
from app.breaker import CircuitBreaker
from app.config.model import Settings
from app.leads import Lead
from app.phoneburner.client import Delivery, PhoneBurnerClient
from app.phoneburner.query import UrlTooLong
from app.phoneburner.replies import Reply, ReplyClass
from app.phoneburner.slots import CallSlots
from app.retries import retry_delay
from app.store.repository import Claim, Store, StoreUnavailable

if TYPE_CHECKING:
    from app.answers import LeadAnswer

log = logging.getLogger("relay.delivery")

# Reply classes that mean only that PhoneBurner could not take the lead now, not that the lead is bad.
TRANSIENT = frozenset({ReplyClass.UNREACHABLE, ReplyClass.AMBIGUOUS, ReplyClass.UNAVAILABLE})

# Seconds the worker waits for a call slot. A claim's lease lasts 30 s beyond the call's timeouts, so this fits.
WORKER_SLOT_WAIT = 10.0

# Seconds to wait before each further try to record an attempt the store failed to record. PhoneBurner has
# the lead by then, and an attempt left unrecorded is sent again once its lease runs out.
RECORD_RETRY_PAUSES = (0.1, 0.5)


@dataclass(frozen=True)
class Result:
    """An attempt's effect: the lead's changed columns, and whether they were stored."""

    changes: dict[str, Any]
    stored: bool
    reply: Reply | None
    # True when no call slot freed up in time, so nothing was sent and the lead waits for the worker.
    deferred: bool = False
    # The request's answer, when the caller passed a builder for it, stored with the changes.
    answer: LeadAnswer | None = None


# Builds a request's answer from the lead's new row, the reply (None when nothing was sent) and `deferred`.
AnswerBuilder = Callable[[dict[str, Any], Reply | None, bool], "LeadAnswer"]


class Deliverer:
    """Makes one attempt for a claimed lead and applies the reply, for intake and the worker alike."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: PhoneBurnerClient,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] = time.time,
        slots: CallSlots | None = None,
        alerter: Alerter | None = None,
        *,
        via: str = "worker",
    ) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.breaker = breaker
        self.clock = clock
        self.slots = slots or CallSlots(settings.phoneburner.max_concurrent)
        self.alerter = alerter
        # "inline" for a request's own attempt, "worker" for retries: a label of the attempt metrics.
        self.via = via

    def attempt(
        self,
        claim: Claim,
        row: dict[str, Any],
        *,
        timeout: tuple[float, float] | None = None,
        slot_wait: float = WORKER_SLOT_WAIT,
        answer: AnswerBuilder | None = None,
    ) -> Result:
        """Send the lead once and store the attempt and its consequences under the claim.

        The call waits at most `slot_wait` seconds for one of the process's
        call slots. Without one, nothing is sent and the lead is left due for
        the worker. Time spent waiting comes off `timeout`'s read timeout, so
        the whole attempt stays within connect + read seconds. A request
        passes `answer`, so that its answer is stored in the same commit as
        the attempt, where repeats of the request find it.
        """
        destination = self._destination(row)
        if destination is None:
            return self._fail_without_attempt(claim, row, "unknown_destination", answer)

        lead = Lead.from_dict(json.loads(row["lead"]))
        asked = time.monotonic()
        with self.slots.hold(wait=slot_wait) as held:
            if not held:
                return self._defer(claim, row, answer)
            if timeout is not None:
                timeout = (timeout[0], max(timeout[1] - (time.monotonic() - asked), 0.1))
            started = self.clock()
            try:
                delivery = self.client.put_contact(
                    lead=lead, user_id=destination[0], cm_id=destination[1], timeout=timeout
                )
            except UrlTooLong as error:
                return self._reject_too_long(claim, row, error, answer)

        reply = delivery.reply
        elapsed = reply.elapsed_ms / 1000 if reply.elapsed_ms is not None else None
        metrics.attempt_finished(self.via, reply.reply_class.value, reply.reason, elapsed)
        if self.breaker is not None:
            reply = delivery.reply
            self.breaker.record(transient_failure=reply.reply_class in TRANSIENT, reason=reply.reason)
        changes = self._apply(row, delivery.reply, claim)
        changes, answered = _with_answer(changes, row, delivery.reply, answer)
        stored = self._record(claim, _attempt_record(row, delivery, started), changes, delivery.reply)
        self._log(row, delivery, changes)
        return Result(changes=changes, stored=stored, reply=delivery.reply, answer=answered)

    def _record(self, claim: Claim, attempt: dict[str, Any], changes: dict[str, Any], reply: Reply) -> bool:
        """Store the attempt and the lead's new state, trying twice more while the store fails; False if not stored."""
        pauses = iter(RECORD_RETRY_PAUSES)
        again = False
        while True:
            try:
                stored = self.store.record_attempt(claim, attempt, changes, again=again)
                if not stored:
                    log.warning("lead.claim_lost", extra={"claim_token": claim.token})
                return stored
            except StoreUnavailable as error:
                extra = {"error": str(error), "reply_class": reply.reply_class.value}
                pause = next(pauses, None)
                if pause is None:
                    # PhoneBurner has the request, so the caller must not say nothing was sent. The lease
                    # runs out, the next claim counts as ambiguous, and a DUPLICATE EMAIL then means delivered.
                    log.error("lead.attempt_not_recorded", extra=extra)
                    return False
                log.warning("lead.attempt_record_retried", extra=extra)
            time.sleep(pause)
            again = True

    def _destination(self, row: dict[str, Any]) -> tuple[str, str] | None:
        # Resolved at send time, so a fixed configuration applies to leads already queued.
        customer = self.settings.customers.get(row["customer"] or "")
        if customer is None or row["leadstream"] not in customer.leadstreams:
            return None
        return customer.user_id, customer.leadstreams[row["leadstream"]]

    def _apply(self, row: dict[str, Any], reply: Reply, claim: Claim) -> dict[str, Any]:
        now = self.clock()
        attempts = row["attempts"] + 1
        ambiguous = row["ambiguous"] or claim.was_abandoned or reply.reply_class is ReplyClass.AMBIGUOUS
        changes: dict[str, Any] = {
            "attempts": attempts,
            "ambiguous": ambiguous,
            "last_class": reply.reply_class.value,
            "last_outcome": reply.outcome,
            "last_reason": reply.reason,
            "updated_at": now,
            "next_attempt_at": None,
        }
        reply_class = reply.reply_class

        if reply_class is ReplyClass.DELIVERED:
            changes.update(status="delivered", lead_url=reply.lead_url)
        elif reply_class is ReplyClass.DUPLICATE:
            # After an attempt that may have arrived, DUPLICATE EMAIL means that attempt did.
            changes["status"] = "delivered" if ambiguous else "duplicate"
        elif reply_class is ReplyClass.LEAD_REJECTED:
            changes["status"] = "rejected"
        elif reply_class is ReplyClass.CONFIG_FAULT:
            changes["status"] = "failed"
            self._hold_customer(row["customer"], reply.reason or "configuration fault")
        else:
            changes.update(self._retry_or_give_up(reply, attempts, now))
        return changes

    def _retry_or_give_up(self, reply: Reply, attempts: int, now: float) -> dict[str, Any]:
        delivery = self.settings.delivery
        unrecognized = reply.reply_class is ReplyClass.UNRECOGNIZED
        limit = delivery.unrecognized_attempts if unrecognized else delivery.max_attempts
        if attempts >= limit:
            log.warning("lead.dead", extra={"attempts": attempts, "reason": reply.reason})
            return {"status": "dead"}

        delay = retry_delay(attempts, delivery, retry_after=reply.retry_after)
        # An unparseable reply makes the lead failed for the sender, and is retried a few times all the same.
        return {"status": "failed" if unrecognized else "queued", "next_attempt_at": now + delay}

    def _hold_customer(self, customer: str, reason: str) -> None:
        # The store puts a customer on hold once, so the one process that set the hold sends its alert.
        if self.store.hold(customer, reason, now=self.clock()):
            log.error("customer.held", extra={"customer": customer, "reason": reason})
            if self.alerter is not None:
                self.alerter.customer_held(customer, reason)

    def _fail_without_attempt(
        self, claim: Claim, row: dict[str, Any], reason: str, answer: AnswerBuilder | None
    ) -> Result:
        log.error("lead.unroutable", extra={"customer": row["customer"], "leadstream": row["leadstream"]})
        changes = {"status": "failed", "last_class": "config_fault", "last_reason": reason,
                   "next_attempt_at": None, "updated_at": self.clock()}
        return self._release(claim, row, changes, answer)

    def _defer(self, claim: Claim, row: dict[str, Any], answer: AnswerBuilder | None) -> Result:
        self.slots.note_deferred()
        now = self.clock()
        changes = {"next_attempt_at": now, "updated_at": now}
        return self._release(claim, row, changes, answer, deferred=True)

    def _reject_too_long(
        self, claim: Claim, row: dict[str, Any], error: UrlTooLong, answer: AnswerBuilder | None
    ) -> Result:
        changes = {"status": "rejected", "errors": json.dumps({"lead": [str(error)]}),
                   "last_reason": "url_too_long", "next_attempt_at": None, "updated_at": self.clock()}
        return self._release(claim, row, changes, answer)

    def _release(
        self,
        claim: Claim,
        row: dict[str, Any],
        changes: dict[str, Any],
        answer: AnswerBuilder | None,
        *,
        deferred: bool = False,
    ) -> Result:
        """Store the changes of a claim that sent nothing, and free the breaker's probe it may hold."""
        if self.breaker is not None:
            self.breaker.release_probe()
        changes, answered = _with_answer(changes, row, None, answer, deferred=deferred)
        stored = self.store.release(claim, changes)
        return Result(changes=changes, stored=stored, reply=None, deferred=deferred, answer=answered)

    def _log(self, row: dict[str, Any], delivery: Delivery, changes: dict[str, Any]) -> None:
        request = delivery.request
        if request.truncated or request.dropped:
            log.warning(
                "phoneburner.answers_truncated",
                extra={"truncated": len(request.truncated), "dropped": len(request.dropped)},
            )
        reply = delivery.reply
        log.info(
            "lead.attempted",
            extra={
                "attempt": changes["attempts"],
                "status": changes["status"],
                "reply_class": reply.reply_class.value,
                "reason": reply.reason,
                "phoneburner_ms": round(reply.elapsed_ms or 0.0, 1),
            },
        )


def _with_answer(
    changes: dict[str, Any],
    row: dict[str, Any],
    reply: Reply | None,
    answer: AnswerBuilder | None,
    *,
    deferred: bool = False,
) -> tuple[dict[str, Any], LeadAnswer | None]:
    """Return the changes with the answer's columns added, and the answer; unchanged without a builder."""
    if answer is None:
        return changes, None
    answered = answer({**row, **changes}, reply, deferred)
    columns = {"answer_status": answered.http_status, "answer_body": json.dumps(answered.document)}
    return {**changes, **columns}, answered


def _attempt_record(row: dict[str, Any], delivery: Delivery, started: float) -> dict[str, Any]:
    reply = delivery.reply
    return {
        "number": row["attempts"] + 1,
        "started_at": started,
        "duration_ms": reply.elapsed_ms,
        "http_status": reply.http_status,
        "reply_class": reply.reply_class.value,
        "outcome": reply.outcome,
        "reason": reply.reason,
        "excerpt": (reply.excerpt or "")[:200] or None,
        "request_url": delivery.request.redacted_url,
    }
