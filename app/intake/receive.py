"""Accepting a mapped lead: store it first, then one inline attempt within a time budget."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from app import idempotency
from app.answers import LeadAnswer, answer_for_lead, no_reply
from app.breaker import CircuitBreaker
from app.config.model import Settings, Source
from app.delivery import Deliverer, Result
from app.errors import StoreDown
from app.leads import Lead
from app.phoneburner.replies import Reply
from app.routing import Destination
from app.store.repository import Claim, Store, StoreUnavailable
from app.store.search import contact_columns

log = logging.getLogger("relay.intake")

# How often a repeat looks again for the first request's answer, in seconds.
_REPEAT_POLL = 0.1

# Seconds a process may take to see a customer put on hold or resumed by another process. A lead it attempts
# in that time meets the same configuration fault, or waits for the worker, so none is lost or sent twice.
HOLDS_MAX_AGE = 1.0

# An inline call keeps at least this read timeout, so it waits for a call slot only as long as that allows.
MIN_INLINE_READ = 2.0


@dataclass(frozen=True)
class Submission:
    """One request's lead as mapped, or the field errors that rejected it."""

    lead_id: str
    source: Source
    raw_body: bytes
    content_type: str
    idempotency_header: str | None
    sender_id: str | None
    lead: Lead | None
    destination: Destination | None
    errors: dict[str, list[str]] | None
    signed: idempotency.SignedRequest | None = None
    # Kept with the lead, so the worker's logs of its attempts carry the request's id.
    request_id: str | None = None


class Receiver:
    """Stores each submission once, answers repeats with the first answer, delivers inline."""

    def __init__(self, settings: Settings, store: Store, deliverer: Deliverer, breaker: CircuitBreaker) -> None:
        self.settings = settings
        self.store = store
        self.deliverer = deliverer
        self.breaker = breaker

    def receive(self, submission: Submission) -> LeadAnswer:
        """Store the submission, then answer: replayed, rejected, queued, or the inline attempt's result."""
        signed = submission.signed
        key = idempotency.request_key(
            source=submission.source.name,
            header=submission.idempotency_header,
            sender_id=submission.sender_id,
            lead=submission.lead,
            message_id=signed.message_id if signed else None,
        )
        replay_key = idempotency.replay_key(source=submission.source.name, signed=signed)
        now = time.time()
        plan = None
        attempted = False
        try:
            plan = self._plan(submission)
            row = self._new_row(submission, plan, now)
            answer = None
            if plan != "inline":
                # The answer follows from the plan alone, so it is stored in the lead's own first commit.
                answer = answer_for_lead(row, queued_reason=plan)
                row.update(answer_status=answer.http_status, answer_body=json.dumps(answer.document))
            accepted = self.store.accept(
                row, key, key_ttl=self._key_ttl(submission), now=now, extra_keys=[replay_key] if replay_key else []
            )
            if accepted.repeat:
                return self._answer_repeat(accepted.lead_id, row["request_hash"], submission.idempotency_header)
            if answer is not None:
                return answer

            attempted = True
            result = self._attempt_inline(row)
        except StoreUnavailable as error:
            log.error("store.unavailable", extra={"error": str(error)})
            raise StoreDown("the relay could not store the lead; nothing was sent, retry later") from None
        finally:
            if plan == "inline" and not attempted:
                # The breaker let this request probe, but no attempt came of it: let the next one try.
                self.breaker.release_probe()

        if not result.stored:
            # The attempt's commit failed or a newer claim owned the lead, so the answer is kept on its own.
            self._save_answer(row["id"], result.answer)
        return result.answer

    def _key_ttl(self, submission: Submission) -> float:
        """Return how long the request's keys are kept, in seconds."""
        window = self.settings.storage.idempotency_window_hours * 3600
        if submission.signed is None:
            return window
        # A timestamp up to signature_tolerance in the future stays valid until twice that from now,
        # so a replay is recognized for as long as its signature is accepted.
        # NOTE: a scheme that signs no timestamp (Typeform, Tally, hmac without timestamp_header)
        # accepts a replay at any time, and a replay after this window is taken as a new lead.
        return max(window, 2 * submission.source.signature_tolerance)

    def _save_answer(self, lead_id: str, answer: LeadAnswer) -> None:
        # The lead is stored and may have been sent; a lost answer only makes repeats use the lead's state.
        try:
            self.store.save_answer(lead_id, answer.http_status, answer.document)
        except StoreUnavailable as error:
            log.error("lead.answer_not_saved", extra={"error": str(error)})

    def _plan(self, submission: Submission) -> str:
        """Return what happens after the lead is stored: rejected, held, deferred or inline."""
        if submission.errors is not None:
            return "rejected"
        destination = submission.destination
        if destination is not None and destination.customer in self.store.held_customers(max_age=HOLDS_MAX_AGE):
            return "customer_on_hold"
        if self.settings.delivery.inline_budget <= 0:
            return "not_attempted"
        if not self.breaker.allow():
            return "breaker_open"
        return "inline"

    def _new_row(self, submission: Submission, plan: str, now: float) -> dict[str, Any]:
        destination = submission.destination
        inline = plan == "inline"
        return {
            "id": submission.lead_id,
            "request_id": submission.request_id,
            "source": submission.source.name,
            "customer": destination.customer if destination else None,
            "leadstream": destination.leadstream if destination else None,
            "sender_id": submission.sender_id,
            "idempotency_key": submission.idempotency_header,
            "request_hash": idempotency.body_hash(submission.raw_body),
            "content_type": submission.content_type,
            "raw_body": submission.raw_body,
            "lead": json.dumps(submission.lead.to_dict()) if submission.lead else None,
            **contact_columns(submission.lead),
            "status": "rejected" if plan == "rejected" else "queued",
            "errors": json.dumps(submission.errors) if submission.errors else None,
            "attempts": 0,
            "next_attempt_at": None if plan == "rejected" else now,
            # The request owns a lead it attempts inline; the worker takes it over only if the lease runs out.
            "lease_until": now + self.settings.delivery.inline_budget + self.settings.lease_seconds if inline else None,
            "claim_token": 1 if inline else 0,
            "ambiguous": False,
            "created_at": now,
            "updated_at": now,
        }

    def _attempt_inline(self, row: dict[str, Any]) -> Result:
        """Make the request's own attempt, which stores the answer with its outcome."""
        claim = Claim(lead_id=row["id"], token=1, was_abandoned=False)
        connect, read = self._inline_timeout()
        # Waiting for a slot shortens the read timeout, so the wait never pushes the response past the budget.
        slot_wait = max(read - MIN_INLINE_READ, 0.0)
        return self.deliverer.attempt(
            claim, row, timeout=(connect, read), slot_wait=slot_wait, answer=_inline_answer
        )

    def _answer_unanswered(self, first: dict[str, Any]) -> LeadAnswer:
        """Answer a repeat whose first request never gave an answer: still running, or killed."""
        replayed = {"Idempotent-Replayed": "true"}
        if _in_flight(first):
            answer = answer_for_lead(first, queued_reason="not_attempted")
            answer.document["message"] = "the first request for this lead is still being handled; ask again later"
            return LeadAnswer(answer.document, 409, headers=replayed)

        # The first request died before answering; the lead's own state is the answer, kept for later repeats.
        answer = answer_for_lead(first, queued_reason="retrying")
        self.store.save_answer(first["id"], answer.http_status, answer.document)
        return LeadAnswer(answer.document, answer.http_status, headers=replayed)

    def _inline_timeout(self) -> tuple[float, float]:
        budget = self.settings.delivery.inline_budget
        connect = min(self.settings.phoneburner.connect_timeout, budget / 2)
        read = min(self.settings.phoneburner.read_timeout, budget - connect)
        return connect, read

    def _answer_repeat(self, first_id: str, request_hash: str, header: str | None) -> LeadAnswer:
        first = self.store.get(first_id)
        if first is None:
            # The key outlived its lead (purged); the sender should try again as a new lead later.
            log.error("lead.repeat_without_lead", extra={"first_lead": first_id})
            raise StoreUnavailable("the first lead of this request is missing")
        if header is not None and first["request_hash"] != request_hash:
            return LeadAnswer(
                document={
                    "lead_id": first_id,
                    "status": "rejected",
                    "message": "this Idempotency-Key was used for a different body",
                    "phoneburner": no_reply(),
                    "errors": {"Idempotency-Key": ["already used with another body; send a new key for a new lead"]},
                },
                http_status=422,
            )

        deadline = time.monotonic() + self.settings.delivery.repeat_wait
        while _in_flight(first) and time.monotonic() < deadline:
            time.sleep(_REPEAT_POLL)
            first = self.store.get(first_id)

        log.info("lead.repeat", extra={"first_lead": first_id})
        if first["answer_status"] is None:
            return self._answer_unanswered(first)
        return LeadAnswer(
            json.loads(first["answer_body"]), first["answer_status"], headers={"Idempotent-Replayed": "true"}
        )


def _inline_answer(row: dict[str, Any], reply: Reply | None, deferred: bool) -> LeadAnswer:
    """Return the answer to a request whose lead, after its inline attempt, is `row`."""
    if deferred:
        return answer_for_lead(row, queued_reason="concurrency_limit")

    retry_after = None
    if row["status"] == "queued" and reply is not None and reply.retry_after is not None:
        retry_after = round(reply.retry_after)
    answer = answer_for_lead(row, queued_reason="retrying")
    elapsed = round(reply.elapsed_ms, 1) if reply is not None and reply.elapsed_ms is not None else None
    return LeadAnswer(answer.document, answer.http_status, retry_after=retry_after, phoneburner_ms=elapsed)


def _in_flight(row: dict[str, Any]) -> bool:
    """Return whether the request that stored this lead may still be answering it."""
    unanswered = row["answer_status"] is None
    return unanswered and row["lease_until"] is not None and row["lease_until"] > time.time() and row["attempts"] == 0
