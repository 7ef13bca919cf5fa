"""The store's tables: one row per lead (inbox and outbox at once), one per attempt."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# Times are Unix seconds as floats: one type that SQLite and PostgreSQL compare alike.
leads = Table(
    "leads",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("source", String(64), nullable=False),
    Column("customer", String(64)),
    Column("leadstream", String(64)),
    Column("sender_id", String(512)),
    Column("idempotency_key", String(255)),
    Column("request_hash", String(64), nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("raw_body", LargeBinary, nullable=False),
    # The mapped lead as JSON: standard fields and extras; null when it was rejected.
    Column("lead", Text),
    # queued, delivered, duplicate, rejected, failed or dead.
    Column("status", String(16), nullable=False),
    Column("errors", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float),
    Column("lease_until", Float),
    # Fencing token: bumped by every claim, so a stale worker's write matches no row.
    Column("claim_token", Integer, nullable=False, default=0),
    # An attempt may have reached PhoneBurner without a reply; a later DUPLICATE EMAIL is then ours.
    Column("ambiguous", Boolean, nullable=False, default=False),
    Column("last_class", String(32)),
    Column("last_outcome", String(16)),
    Column("last_reason", String(128)),
    Column("lead_url", Text),
    # The first answer, replayed to repeats of the request.
    Column("answer_status", Integer),
    Column("answer_body", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # The mapped lead's email (normalized, then case-folded) and E.164 phone, so operators can
    # search by them. Both are null for rejected leads, and each for a lead without one.
    Column("email_normalized", String(255)),
    Column("phone_normalized", String(32)),
    # The id of the request that brought the lead, so the worker's logs can carry it.
    Column("request_id", String(128)),
)

Index("leads_due", leads.c.status, leads.c.next_attempt_at)
Index("leads_created", leads.c.created_at)
Index("leads_customer_status", leads.c.customer, leads.c.status)
Index("leads_email", leads.c.email_normalized)
Index("leads_phone", leads.c.phone_normalized)
# The queue metrics: counts by status, and the oldest queued lead, without reading the table.
Index("leads_status_created", leads.c.status, leads.c.created_at)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("lead_id", String(32), ForeignKey("leads.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("claim_token", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("duration_ms", Float),
    Column("http_status", Integer),
    Column("reply_class", String(32), nullable=False),
    Column("outcome", String(16)),
    Column("reason", String(128)),
    # At most a short excerpt of PhoneBurner's reply, with the key removed.
    Column("excerpt", String(200)),
    # The put_contact URL with the vendor key replaced.
    Column("request_url", Text),
)

Index("attempts_lead", attempts.c.lead_id)

# A UNIQUE key decides which of two concurrent requests is the first; repeats find its lead.
# The longest key is "fingerprint:<source>:<64 hex digits>", 141 characters for a 64-character source name.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("lead_id", String(32), nullable=False),
    Column("expires_at", Float, nullable=False),
)

Index("idempotency_keys_expiry", idempotency_keys.c.expires_at)

customer_holds = Table(
    "customer_holds",
    metadata,
    Column("customer", String(64), primary_key=True),
    Column("reason", String(128), nullable=False),
    Column("held_at", Float, nullable=False),
)

# When each alert (kind and subject) was last sent, so processes on every host share one rate limit.
alert_marks = Table(
    "alert_marks",
    metadata,
    Column("key", String(160), primary_key=True),
    Column("sent_at", Float, nullable=False),
)
