"""Adapters: one module per sending tool, each unwrapping that tool's envelope.

Every module in this package that defines an Adapter subclass with a `name`
is registered under that name, so adding a tool means adding one module.
"""

from __future__ import annotations

import importlib
import pkgutil

from app.adapters.base import Adapter, Field, FieldSet, Unwrapped, loose_key
from app.adapters.form import FormAdapter

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

# Modules of this package that hold helpers, not adapters.
_HELPER_MODULES = {"base", "questions", "quirks", "signatures"}


def _discover() -> dict[str, type[Adapter]]:
    found: dict[str, type[Adapter]] = {}
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name in _HELPER_MODULES or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for candidate in vars(module).values():
            if isinstance(candidate, type) and issubclass(candidate, Adapter) and "name" in vars(candidate):
                found[candidate.name] = candidate
    return dict(sorted(found.items()))


ADAPTERS: dict[str, type[Adapter]] = _discover()

__all__ = ["ADAPTERS", "TRANSPORT_NOISE", "Adapter", "Field", "FieldSet", "FormAdapter", "Unwrapped", "loose_key"]
