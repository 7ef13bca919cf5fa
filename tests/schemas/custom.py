"""A source schema written in Python, as a customer would for a sender that needs code."""

from __future__ import annotations

from app.adapters import FieldSet
from app.schemas.source import Mapped, SourceSchema


class ReferralSchema(SourceSchema):
    """Forwards a partner's referral code under a readable label, and nothing else unmapped."""

    def map_fields(self, fields: FieldSet) -> Mapped:
        mapped = super().map_fields(fields)
        referral = fields.find("ref")
        mapped.extras = [("Referral code", referral.text)] if referral else []
        return mapped
