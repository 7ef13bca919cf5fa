"""Parse a request body by its content type into a document and flat fields."""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import parse_qsl

from flask import Request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from app.config.model import Limits
from app.errors import BadBody, TooLarge, UnsupportedContentType
from app.intake.raw_body import read_raw
from app.leads import Lead
from app.schemas.normalize import to_text

ACCEPTED_TYPES = "application/json, application/x-www-form-urlencoded or multipart/form-data"

_REPLACEMENT_UTF8 = "\ufffd".encode()


@dataclass(frozen=True)
class Body:
    """A parsed body: the JSON document (None for forms) and its fields in order."""

    kind: str
    document: Any
    pairs: list[tuple[str, str]]


def read_body(request: Request, limits: Limits) -> Body:
    """Parse the request's body, raising a typed error for any body the relay cannot read."""
    mimetype = request.mimetype

    if mimetype == "application/json" or mimetype.endswith("+json"):
        body = _read_json(read_raw(request, limits), limits)
    elif mimetype == "application/x-www-form-urlencoded":
        body = _read_urlencoded(read_raw(request, limits), limits)
    elif mimetype == "multipart/form-data":
        body = _read_multipart(request, read_raw(request, limits), limits)
    elif not mimetype:
        raise UnsupportedContentType(f"the Content-Type header is missing; send {ACCEPTED_TYPES}")
    else:
        raise UnsupportedContentType(f"content type {mimetype!r} is not supported; send {ACCEPTED_TYPES}")

    _check_sizes(body.pairs, limits)
    return body


def _read_json(raw: bytes, limits: Limits) -> Body:
    text = _decode_utf8(raw).lstrip("\ufeff")
    if not text.strip():
        raise BadBody("the body is empty; send one lead as a JSON object")

    try:
        # Decimal text stays as written, so 1.50 is not turned into 1.5.
        document = json.loads(text, parse_float=str, parse_int=_parse_int, parse_constant=_reject_constant)
    except (json.JSONDecodeError, ValueError) as error:
        raise BadBody(f"the body is not valid JSON: {error}") from None
    except RecursionError:
        raise BadBody(f"the JSON body is nested deeper than {limits.max_json_depth} levels") from None

    if _depth(document) > limits.max_json_depth:
        raise BadBody(f"the JSON body is nested deeper than {limits.max_json_depth} levels")

    _reject_long_numbers(document)
    _check_encodable(document)

    document = _single_object(document)
    return Body(kind="json", document=document, pairs=list(flatten(document)))


def _check_encodable(document: Any) -> None:
    # JSON may escape half of a surrogate pair (\ud800) alone, which is no character and has no UTF-8 form.
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadBody("the JSON body has a \\u escape of a lone surrogate, which is not text; send UTF-8") from None


class _LongNumber(str):
    """The text of a JSON integer with more digits than Python converts (sys.get_int_max_str_digits())."""


def _parse_int(text: str) -> int | _LongNumber:
    try:
        return int(text)
    except ValueError:
        return _LongNumber(text)


def _reject_long_numbers(node: Any, path: str = "") -> None:
    """Raise BadBody naming the first field whose integer is too long to convert."""
    if isinstance(node, _LongNumber):
        where = f"field {path[:100]!r}" if path else "the JSON body"
        raise BadBody(
            f"the number in {where} has {len(node.lstrip('-'))} digits, more than "
            f"{sys.get_int_max_str_digits()}; send it as a JSON string"
        )

    if isinstance(node, dict):
        children = [(f"{path}.{key}" if path else str(key), value) for key, value in node.items()]
    elif isinstance(node, list):
        children = [(f"{path}.{index}" if path else str(index), item) for index, item in enumerate(node)]
    else:
        return
    for child_path, child in children:
        _reject_long_numbers(child, child_path)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def _single_object(document: Any) -> dict[str, Any]:
    # Some tools wrap the one lead in an array ("wrap request in array" options).
    if isinstance(document, list) and len(document) == 1:
        document = document[0]
    if not isinstance(document, dict):
        raise BadBody("the JSON body must be one object with the lead's fields; send one lead per request")
    return document


def _depth(document: Any) -> int:
    deepest = 0
    stack = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            children = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def flatten(node: Any, prefix: str = ""):
    """Yield (dotted key, text) pairs; lists of plain values repeat their key."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return

    if isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, (dict, list)):
                yield from flatten(item, f"{prefix}.{index}")
            else:
                yield prefix, to_text(item)
        return

    yield prefix, to_text(node)


def _read_urlencoded(raw: bytes, limits: Limits) -> Body:
    text = _decode_utf8(raw)
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=limits.max_fields
        )
    except UnicodeDecodeError:
        raise BadBody("the form body has percent-escapes that are not UTF-8; send UTF-8") from None
    except ValueError:
        raise TooLarge(
            f"the form has more than {limits.max_fields} fields ([limits].max_fields); send fewer fields"
        ) from None
    return Body(kind="form", document=None, pairs=pairs)


def _read_multipart(request: Request, raw: bytes, limits: Limits) -> Body:
    if not request.mimetype_params.get("boundary"):
        raise BadBody("the multipart Content-Type has no boundary parameter")

    try:
        form = request.form
    except RequestEntityTooLarge:
        # The body's size was checked when it was read, so the part count (MAX_FORM_PARTS) is what is over.
        raise TooLarge(
            f"the multipart body has more than {limits.max_fields} parts ([limits].max_fields); send fewer fields"
        ) from None
    except (BadRequest, ValueError) as error:
        raise BadBody(f"the multipart body is malformed: {error}") from None
    _check_files(request, limits)

    # Uploaded files are not lead fields, and a part without a name has no key.
    pairs = [(key, value) for key, value in form.items(multi=True) if key]
    if not pairs and not request.files and raw.strip():
        raise BadBody("no fields found in the multipart body; check that the boundary matches the Content-Type")

    # Werkzeug replaces undecodable bytes with U+FFFD; a sender that really typed one would send its UTF-8 bytes.
    if _REPLACEMENT_UTF8 not in raw and any("\ufffd" in key + value for key, value in pairs):
        raise BadBody("a multipart field is not valid UTF-8; send UTF-8")
    return Body(kind="multipart", document=None, pairs=pairs)


class RelayRequest(Request):
    """Flask's request, except that uploaded files are dropped while the multipart body is parsed."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        # Files are no lead fields. Werkzeug's own spooled files (3.1) also stay open when a body
        # ends inside a file part, because its parser drops them without closing them.
        return DiscardedUpload()


class DiscardedUpload(io.RawIOBase):
    """A file part's stream that keeps only its size. It accepts every write and reads back empty.

    Seeking to the end returns the number of bytes written, so the field limits can still
    reject a file part that is too large.
    """

    def __init__(self) -> None:
        super().__init__()
        self.size = 0

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.size += len(data)
        return len(data)

    def readinto(self, buffer) -> int:
        return 0

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.size if whence == io.SEEK_END else 0


def _decode_utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadBody(f"the body is not valid UTF-8 (byte {error.start}); send UTF-8") from None


def _check_sizes(pairs: list[tuple[str, str]], limits: Limits) -> None:
    if len(pairs) > limits.max_fields:
        raise TooLarge(f"the body has more than {limits.max_fields} fields ([limits].max_fields); send fewer fields")

    for key, value in pairs:
        _check_name(key, limits)
        if len(value) > limits.max_value_chars:
            raise TooLarge(
                f"field {key[:100]!r} is longer than {limits.max_value_chars} characters "
                "([limits].max_value_chars); shorten the value"
            )


def _check_name(key: str, limits: Limits) -> None:
    if len(key) > limits.max_field_name_chars:
        raise TooLarge(
            f"field name {key[:40]!r}... is longer than {limits.max_field_name_chars} characters "
            "([limits].max_field_name_chars); use shorter field names"
        )


def _check_files(request: Request, limits: Limits) -> None:
    """Apply the field limits to uploaded file parts, which count as fields and whose size counts as a value's."""
    files = list(request.files.items(multi=True))
    if len(list(request.form.items(multi=True))) + len(files) > limits.max_fields:
        raise TooLarge(f"the body has more than {limits.max_fields} fields ([limits].max_fields); send fewer fields")

    for key, upload in files:
        _check_name(key, limits)
        size = upload.stream.seek(0, io.SEEK_END)
        upload.stream.seek(0)
        if size > limits.max_value_chars:
            raise TooLarge(
                f"file part {key[:100]!r} has {size} bytes, more than {limits.max_value_chars} "
                "([limits].max_value_chars); the relay ignores uploads, so leave files out of the post"
            )


def check_extras(lead: Lead, limits: Limits) -> None:
    """Raise TooLarge when a lead carries more extras than the relay forwards."""
    if len(lead.extras) > limits.max_extras:
        raise TooLarge(
            f"the lead has {len(lead.extras)} answers to forward as extras, more than {limits.max_extras} "
            "([limits].max_extras); leave fields out with the source's ignore list, or map fewer extras"
        )
