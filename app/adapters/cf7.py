"""Contact Form 7 through the "CF7 to Webhook" plugin (formerly "CF7 to Zapier").

The plugin (github.com/mariovalney/cf7-to-zapier, version 4.0: read in
modules/cf7/class-module-cf7.php, modules/zapier/class-module-zapier.php and
readme.txt) posts one flat JSON object per submission. PHP's json_encode
writes it, so `/` arrives as `\\/` and non-ASCII as `\\uXXXX`.

* Keys are the form's tag names (`your-name`, `your-email`, `your-tel`...),
  or the name that a tag's `webhook:` option sets.
* Checkbox tags are arrays, an acceptance box is "1", an empty tag is "".
* Special mail tags listed in the form's webhook settings come first
  (`_remote_ip`, `_url`, `_date`...), keyed by their name or by the second
  word of their entry.
* File tags carry a link, or `{"filename", "content"}` objects with the
  file in base64 when "Send content" is on.

Versions before 2.1.1 forwarded the slashed `$_POST` (`O\\'Brien`), which
FieldSet already repairs. A custom body template that is not valid JSON is
sent as `text/plain`, which the relay rejects with 415 before this adapter
runs. Other CF7 webhook plugins that forward the whole `$_POST` as a form
add CF7's hidden `_wpcf7*` fields and post checkbox groups as `name[]`.
The plugin neither signs its requests nor sends a submission id.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from app.adapters.base import Adapter, FieldSet, Unwrapped
from app.errors import BadBody

# `your-file.filename` or, for several files, `your-file.0.filename`.
_FILE_PART = re.compile(r"^(?P<tag>.+?)(?:\.\d+)?\.(?P<part>filename|content)$")


class Cf7Adapter(Adapter):
    """Takes CF7 to Webhook's flat JSON object, keyed by CF7 tag name."""

    name = "cf7"

    # CF7's own templates use the `your-` names; the plain names cover tags
    # renamed with the `webhook:` option. Matched loosely, so `your_email` counts.
    default_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "firstname": ("your-first-name", "your-firstname", "first-name", "firstname", "fname"),
        "lastname": ("your-last-name", "your-lastname", "last-name", "lastname", "lname", "surname"),
        "fullname": ("your-name", "your-full-name", "full-name", "name"),
        "email": ("your-email", "your-mail", "email", "e-mail", "email-address", "mail"),
        "phone": (
            "your-tel", "your-phone", "your-mobile", "tel", "phone", "telephone", "phone-number",
            "mobile", "cell",
        ),
        "address1": ("your-address", "your-street", "address", "address1", "street", "street-address"),
        "address2": ("your-address-2", "address2", "address-2", "apt", "suite"),
        "city": ("your-city", "city", "town"),
        "state": ("your-state", "your-province", "state", "province", "region"),
        "zip": ("your-zip", "your-postcode", "your-postal-code", "zip", "zip-code", "postcode", "postal-code"),
        "country": ("your-country", "country", "country-code"),
    }

    # CF7's hidden fields, and the special mail tags that describe the request
    # or the site rather than the visitor's answers. `_raw_*` (the label of a
    # piped choice) and `_user_*` (the logged-in WordPress user) stay answers.
    noise: ClassVar[tuple[str, ...]] = (
        "_wpcf7*",
        "_remote_ip",
        "_user_agent",
        "_url",
        "_date",
        "_time",
        "_serial_number",
        "_invalid_fields",
        "_post_*",
        "_site_*",
    )

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        _reject_json_read_as_form(document, pairs)

        keys = {key for key, _ in pairs}
        fields = FieldSet()
        for key, value in pairs:
            tag = _tag_name(key, keys)
            if tag is not None:
                fields.add(tag, value)
        return Unwrapped(fields=fields)


def _tag_name(key: str, keys: set[str]) -> str | None:
    """Return the CF7 tag a body key belongs to, or None for a file's base64 content."""
    file_part = _FILE_PART.match(key)
    if file_part is not None:
        prefix = key.rsplit(".", 1)[0]
        sibling = "content" if file_part["part"] == "filename" else "filename"
        if f"{prefix}.{sibling}" in keys:
            # The file's bytes are no answer, and PhoneBurner's URL has no room
            # for them; its name is kept under the tag's own key.
            return file_part["tag"] if file_part["part"] == "filename" else None

    # A browser posts a CF7 checkbox group as `name[]`; the tag is `name`.
    if key.endswith("[]") and len(key) > 2:
        return key[:-2]
    return key


def _reject_json_read_as_form(document: Any, pairs: list[tuple[str, str]]) -> None:
    # Before version 1.1 the plugin posted its JSON without a Content-Type,
    # which WordPress's HTTP client can label form-urlencoded. Parsed as a
    # form, the whole object lands in one key.
    if document is None and pairs and pairs[0][0].lstrip().startswith("{"):
        raise BadBody(
            "invalid form body: it contains a JSON object. Send JSON with Content-Type "
            "application/json, as CF7 to Webhook 1.1 and later do"
        )
