"""Adapters: one per sending tool, each unwrapping that tool's envelope."""

from app.adapters.base import Adapter, Field, FieldSet, Unwrapped, loose_key
from app.adapters.form import FormAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    FormAdapter.name: FormAdapter,
}

# Fields that carry transport, not answers: never forwarded as extras.
TRANSPORT_NOISE = (
    "token",
    "customer",
    "leadstream",
    "key",
    "user_id",
    "cm_id",
    "g-recaptcha-response",
    "h-captcha-response",
    "cf-turnstile-response",
    "recaptcha_token",
    "_wpcf7*",
    "_wpnonce",
    "_wp_http_referer",
    "submit",
)

__all__ = ["ADAPTERS", "TRANSPORT_NOISE", "Adapter", "Field", "FieldSet", "FormAdapter", "Unwrapped", "loose_key"]
