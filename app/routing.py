"""Resolve where a lead goes: customer and LeadStream to user_id and cm_id."""

from __future__ import annotations

from dataclasses import dataclass

from app.adapters import FieldSet
from app.config.model import Customer, Source
from app.errors import InvalidLead


@dataclass(frozen=True)
class Destination:
    """The PhoneBurner account and LeadStream that receive one lead."""

    customer: str
    leadstream: str
    user_id: str
    cm_id: str


def resolve_destination(
    source: Source, customers: dict[str, Customer], fields: FieldSet, query: dict[str, str]
) -> Destination:
    """Pick the customer and LeadStream the source allows; never take a raw cm_id from the sender."""
    customer = customers[_choose_customer(source, fields, query)]
    leadstream = _choose_leadstream(source, customer, fields, query)
    return Destination(
        customer=customer.name,
        leadstream=leadstream,
        user_id=customer.user_id,
        cm_id=customer.leadstreams[leadstream],
    )


def _choose_customer(source: Source, fields: FieldSet, query: dict[str, str]) -> str:
    if not source.customer_choice:
        return source.customers[0]

    requested = _requested("customer", fields, query)
    if requested is None:
        raise _rejected("customer", f"missing: send a customer field or query parameter: {_list(source.customers)}")
    if requested not in source.customers:
        raise _rejected("customer", f"unknown customer {requested[:64]!r}: use one of {_list(source.customers)}")
    return requested


def _choose_leadstream(source: Source, customer: Customer, fields: FieldSet, query: dict[str, str]) -> str:
    requested = _requested("leadstream", fields, query) if source.leadstreams else None
    if requested is not None:
        if requested not in source.leadstreams:
            raise _rejected(
                "leadstream", f"unknown LeadStream {requested[:64]!r}: use one of {_list(source.leadstreams)}"
            )
        return requested

    default = source.leadstream or customer.default_leadstream
    if default is not None:
        return default

    raise _rejected("leadstream", f"missing: send a leadstream field or query parameter: {_list(source.leadstreams)}")


def _requested(name: str, fields: FieldSet, query: dict[str, str]) -> str | None:
    value = query.get(name)
    if not value:
        found = fields.find(name)
        value = found.values[0] if found is not None and found.values else None
    return value.strip() or None if value else None


def _rejected(name: str, message: str) -> InvalidLead:
    return InvalidLead(f"the request's {name} is missing or not allowed", errors={name: [message]})


def _list(names: tuple[str, ...]) -> str:
    return ", ".join(names)
