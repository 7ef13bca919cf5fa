"""Elementor Pro forms: the form widget's "Webhook" action.

Elementor publishes no payload reference. The format here is read from
Elementor Pro's source as mirrored at github.com/proelements/proelements:
modules/forms/actions/webhook.php, classes/form-record.php and
classes/ajax-handler.php, whose older and recent revisions build the same
body. The action hands an array body to WordPress's wp_remote_post, which
posts it form-urlencoded with PHP's http_build_query. The action's
"Advanced Data" switch picks one of two shapes.

* Simple (the default): one pair per field keyed by the field's label, or
  "No Label <field id>" when the label is blank. The metadata the form
  collects follows, keyed by its title (Date, Time, Page URL, Page Title,
  User Agent, Remote IP, Powered by), then `form_id` and `form_name`.
* Advanced: `form[id]`, `form[name]`, `fields[<id>][id|type|title|value|
  raw_value|required]` and `meta[<key>][title|value]`, with the brackets
  literally in the keys (`raw_value[0]`... for checkbox groups).

`value` is what Elementor stored: checkbox choices joined with ", ", an
acceptance box "on", a tel field as typed. Elementor sends no submission id
and no signature. A site's `elementor_pro/forms/webhooks/request_args`
filter can re-encode the same body as JSON; both shapes are read from JSON
too.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from app.adapters.base import Adapter, FieldSet, Unwrapped
from app.adapters.questions import alias_unclaimed
from app.errors import BadBody
from app.schemas.normalize import to_text

# Prefix of a field-map candidate that names an Elementor field type, such as
# `type:email`. Elementor field ids allow only letters, digits and `_`.
# NOTE: the candidate is an alias, so it matches loosely and ranks below keys.
# A field whose id is `type_email` therefore outranks the first answered email field.
TYPE_PREFIX = "type:"

# Simple mode's metadata titles (English) -> the meta keys advanced mode uses.
_SIMPLE_META = {
    "Date": "date",
    "Time": "time",
    "Page URL": "page_url",
    "Page Title": "page_title",
    "User Agent": "user_agent",
    "Remote IP": "remote_ip",
    "Powered by": "credit",
}
_SIMPLE_ENVELOPE = ("form_id", "form_name")

# Field types that carry no answer (layout, captcha, honeypot) or must not
# leave the site (password).
_SKIPPED_TYPES = {"html", "step", "recaptcha", "recaptcha_v3", "honeypot", "password"}

# `fields[name][raw_value][0]` -> "fields", "[name][raw_value][0]".
_BRACKET_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])+)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")

_EXPECTED = (
    "Expected an Elementor form webhook: simple mode ends with form_id and form_name, "
    "advanced mode has form[...], fields[<id>][value] and meta[...]"
)


class ElementorAdapter(Adapter):
    """Takes Elementor Pro's form webhook in simple or advanced mode."""

    name = "elementor"

    # Simple mode keys are labels and advanced mode keys are field ids, so the
    # candidates list both. They match loosely (`Full Name` = `full_name`).
    # Elementor's default form has the ids `name`, `email` and `message`.
    default_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "firstname": ("first_name", "firstname", "fname", "first"),
        "lastname": ("last_name", "lastname", "lname", "surname", "last"),
        "fullname": ("name", "full_name", "fullname", "your_name"),
        "email": ("email", f"{TYPE_PREFIX}email", "email_address", "e-mail", "your_email", "mail"),
        "phone": (
            "phone", f"{TYPE_PREFIX}tel", "tel", "telephone", "phone_number", "mobile", "mobile_phone",
            "cell", "your_phone",
        ),
        "address1": ("address", "address1", "address_1", "street", "street_address", "address_line_1"),
        "address2": ("address2", "address_2", "address_line_2", "apt", "suite"),
        "city": ("city", "town"),
        "state": ("state", "province", "region", "state_province"),
        "zip": ("zip", "zip_code", "zipcode", "postal_code", "postcode"),
        "country": ("country", "country_code"),
    }

    noise: ClassVar[tuple[str, ...]] = ("form_id", "form_name", "meta.*")

    def unwrap(self, document: Any, pairs: list[tuple[str, str]]) -> Unwrapped:
        tree = _advanced_tree(document, pairs)
        if tree is not None:
            return Unwrapped(fields=_advanced_fields(tree))
        return Unwrapped(fields=_simple_fields(pairs))


def _advanced_tree(document: Any, pairs: list[tuple[str, str]]) -> dict[str, Any] | None:
    """Return the advanced-mode body as nested dicts, or None for a simple-mode body."""
    if isinstance(document, dict):
        return document if "fields" in document and ("form" in document or "meta" in document) else None
    # A simple-mode label may hold brackets too ("Budget [USD]"), so only a
    # `fields[...]` key marks advanced mode.
    if not any(key.startswith("fields[") for key, _ in pairs):
        return None

    tree: dict[str, Any] = {}
    for key, value in pairs:
        _insert(tree, _key_path(key), value)
    return tree


def _key_path(key: str) -> list[str]:
    """Split a PHP bracket key, `fields[name][value]`, into its segments."""
    match = _BRACKET_KEY.match(key)
    if match is None:
        return [key]
    return [match[1], *_SEGMENT.findall(match[2])]


def _insert(tree: dict[str, Any], path: list[str], value: str) -> None:
    node = tree
    for segment in path[:-1]:
        # An empty segment (`name[]`) appends, as PHP does.
        segment = segment or str(len(node))
        child = node.get(segment)
        if not isinstance(child, dict):
            child = node[segment] = {}
        node = child
    node[path[-1] or str(len(node))] = value


def _advanced_fields(tree: dict[str, Any]) -> FieldSet:
    fields = FieldSet()
    if not isinstance(tree.get("fields"), dict):
        raise BadBody(f"missing fields[<id>][...] entries in the body. {_EXPECTED}")

    # Payload order: form, fields, meta, as webhook.php builds the body.
    for part, node in tree.items():
        if part == "form" and isinstance(node, dict):
            fields.add("form_id", to_text(node.get("id")))
            fields.add("form_name", to_text(node.get("name")))
        elif part == "fields":
            _add_answers(fields, node)
        elif part == "meta" and isinstance(node, dict):
            _add_meta(fields, node)
        elif not isinstance(node, dict):
            # A pair a site's filter added next to the envelope, such as `leadstream`.
            fields.add(part, to_text(node))
    return fields


def _add_answers(fields: FieldSet, answers: dict[str, Any]) -> None:
    for field_id, answer in answers.items():
        if not isinstance(answer, dict):
            raise BadBody(f"invalid field {field_id[:100]!r}: not a fields[<id>][value] group. {_EXPECTED}")
        field_type = to_text(answer.get("type"))
        if field_type in _SKIPPED_TYPES:
            continue
        label = to_text(answer.get("title")).strip() or field_id
        value = _answer_text(answer)
        fields.add(field_id, value, label)

        # Elementor gives every new field a generated id (`field_3a9b1c2`), so
        # a field map may name a field by its label, or by `type:email` for the
        # first answered field of that type. The first alias of a name wins.
        alias_unclaimed(fields, label, field_id)
        if field_type and value.strip():
            alias_unclaimed(fields, f"{TYPE_PREFIX}{field_type}", field_id)


def _answer_text(answer: dict[str, Any]) -> str:
    # `value` is the sanitized answer with choices already joined. `raw_value`
    # is the visitor's unsanitized input, used only when `value` is absent.
    if "value" in answer:
        return to_text(answer["value"])
    raw = answer.get("raw_value")
    if isinstance(raw, dict):
        raw = list(raw.values())
    return to_text(raw)


def _add_meta(fields: FieldSet, meta: dict[str, Any]) -> None:
    for meta_key, item in meta.items():
        if isinstance(item, dict):
            title = to_text(item.get("title")).strip() or meta_key
            fields.add(f"meta.{meta_key}", to_text(item.get("value")), title)


def _simple_fields(pairs: list[tuple[str, str]]) -> FieldSet:
    keys = [key for key, _ in pairs]
    if not any(key in _SIMPLE_ENVELOPE for key in keys):
        raise BadBody(f"missing form_id and form_name in the body. {_EXPECTED}")

    # The metadata follows the last field and precedes form_id and form_name.
    # Only that trailing run counts as metadata, so a field labelled "Date"
    # elsewhere in the form stays an answer.
    # NOTE: a form without metadata whose last field is labelled like one
    # ("Date", "Time"...) loses that field to the metadata, and metadata
    # titles of a translated site ("Datum") stay answers.
    end = len(keys)
    while end and keys[end - 1] in _SIMPLE_ENVELOPE:
        end -= 1
    start = end
    while start and keys[start - 1] in _SIMPLE_META:
        start -= 1

    fields = FieldSet()
    for index, (key, value) in enumerate(pairs):
        if start <= index < end:
            fields.add(f"meta.{_SIMPLE_META[key]}", value, key)
        else:
            fields.add(key, value)
    return fields
