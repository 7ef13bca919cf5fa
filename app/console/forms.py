"""The console's forms: login, lead search, replay and the one-button actions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from app.cli_store import STATUSES
from app.schemas.normalize import normalize_email, normalize_phone
from app.store.search import LeadFilter, PagePosition, email_key

# Lead ids are 32 hex digits (app.logs.new_id); longer or other text names no lead.
LEAD_ID = re.compile(r"^[0-9a-f]{32}$")

# A page position in a URL: the creation time as Python writes a float, then the lead id.
_POSITION = re.compile(r"^(\d{1,12}(?:\.\d{1,20})?(?:e[+-]?\d{1,3})?)_([0-9a-f]{32})$")


class LoginForm(FlaskForm):
    token = PasswordField("Admin token", validators=[InputRequired("enter the admin token")])
    next = HiddenField()


class ReplayForm(FlaskForm):
    lead_ids = SelectMultipleField(validate_choice=False, validators=[InputRequired("select at least one lead")])
    return_to = HiddenField()

    def validate_lead_ids(self, field: SelectMultipleField) -> None:
        if not all(LEAD_ID.match(lead_id) for lead_id in field.data):
            raise ValidationError("a selected lead id is not 32 hexadecimal digits")


class LeadSearchForm(FlaskForm):
    """The filters of the leads page, read from the query string."""

    class Meta:
        csrf = False

    email = StringField("Email", validators=[Optional(), Length(max=320)])
    phone = StringField("Phone", validators=[Optional(), Length(max=64)])
    source = StringField("Source", validators=[Optional(), Length(max=64)])
    customer = StringField("Customer", validators=[Optional(), Length(max=64)])
    status = SelectField(
        "Status", choices=[SelectChoice("", "any"), *(SelectChoice(status) for status in STATUSES)], default=""
    )
    created_from = DateField("Created from", validators=[Optional()])
    created_to = DateField("to", validators=[Optional()])
    after = HiddenField()

    def __init__(self, *args, regions: tuple[str, ...] = ("US",), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Regions a phone number typed without a country code is read in: the sources' default regions.
        self.regions = regions
        self.email_key: str | None = None
        self.phones: tuple[str, ...] = ()
        self.position: PagePosition | None = None

    def validate_email(self, field: StringField) -> None:
        try:
            self.email_key = email_key(normalize_email(field.data))
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def validate_phone(self, field: StringField) -> None:
        numbers = []
        problems = []
        for region in self.regions:
            try:
                numbers.append(normalize_phone(field.data, region=region))
            except ValueError as error:
                problems.append(str(error))
        if not numbers:
            raise ValidationError(problems[0])
        self.phones = tuple(dict.fromkeys(numbers))

    def validate_created_to(self, field: DateField) -> None:
        if self.created_from.data and field.data and field.data < self.created_from.data:
            raise ValidationError("the end date is before the start date")

    def validate_after(self, field: HiddenField) -> None:
        match = _POSITION.match(field.data or "")
        if field.data and match is None:
            raise ValidationError("invalid page position; start again from the first page")
        if match:
            self.position = PagePosition(created_at=float(match[1]), lead_id=match[2])

    def lead_filter(self) -> LeadFilter:
        """Return the store's filter for the validated form."""
        return LeadFilter(
            email=self.email_key,
            phones=self.phones,
            status=self.status.data or None,
            source=(self.source.data or "").strip() or None,
            customer=(self.customer.data or "").strip() or None,
            created_from=_start_of_day(self.created_from.data),
            # The end date is inclusive: leads created before the next day's start.
            created_before=_start_of_day(self.created_to.data, days=1),
        )


def page_position(row: dict) -> str:
    """Return a lead's page position as the `after` query parameter writes it."""
    return f"{row['created_at']!r}_{row['id']}"


def _start_of_day(day, *, days: int = 0) -> float | None:
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=days), time(0), tzinfo=UTC).timestamp()
