"""The Calendly adapter: invitee.created bodies, other events, and the Calendly-Webhook-Signature check."""

from __future__ import annotations

import json

import pytest

from app.errors import BadBody, IgnoredEvent
from tests.adapters.harness import NOW, app_client, assert_lead, hmac_hex, lead, map_body
from tests.conftest import PB_URL, SUCCESS, TOKEN, sent_params

SECRET = "calendly-signing-key-for-tests"
INVITEE_URI = "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2/invitees/AAAAAAAAAAAAAAAA"


def invitee(**changes) -> dict:
    payload = {
        "uri": INVITEE_URI,
        "email": "dana@example.com",
        "first_name": None,
        "last_name": None,
        "name": "Dana Prospect",
        "status": "active",
        "questions_and_answers": [
            {"question": "Company", "answer": "Prospect & Co", "position": 0},
            {"question": "Phone Number", "answer": "(949) 555-0123", "position": 1},
        ],
        "timezone": "America/Chicago",
        "event": "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2",
        "created_at": "2025-03-14T18:19:58.678123Z",
        "updated_at": "2025-03-14T18:19:58.678123Z",
        "tracking": {"utm_campaign": "spring", "utm_source": "google", "utm_medium": None, "utm_content": None,
                     "utm_term": None, "salesforce_uuid": None},
        "text_reminder_number": None,
        "rescheduled": False,
        "old_invitee": None,
        "new_invitee": None,
        "cancel_url": "https://calendly.com/cancellations/AAAAAAAAAAAAAAAA",
        "reschedule_url": "https://calendly.com/reschedulings/AAAAAAAAAAAAAAAA",
        "scheduled_event": {
            "uri": "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2",
            "name": "Discovery call",
            "status": "active",
            "start_time": "2025-03-20T15:00:00.000000Z",
            "end_time": "2025-03-20T15:30:00.000000Z",
            "event_type": "https://api.calendly.com/event_types/GBGBDCAADAEDCRZ2",
            "location": {"type": "zoom", "join_url": "https://zoom.example.com/j/1"},
            "event_memberships": [{"user": "https://api.calendly.com/users/U1", "user_email": "host@example.com"}],
        },
    }
    payload.update(changes)
    return payload


def webhook(payload: dict, event: str = "invitee.created") -> str:
    body = {"event": event, "created_at": "2025-03-14T18:20:00.000000Z",
            "created_by": "https://api.calendly.com/users/AAAAAAAAAAAAAAAA", "payload": payload}
    return json.dumps(body, ensure_ascii=False)


MEETING = {
    "Event": "Discovery call",
    "Start time": "2025-03-20T15:00:00.000000Z",
    "Time zone": "America/Chicago",
}

CASES = {
    "common": (
        webhook(invitee()),
        lead(
            {"Company": "Prospect & Co", **MEETING, "utm_source": "google", "utm_campaign": "spring"},
            sender_id=INVITEE_URI,
            firstname="Dana", lastname="Prospect", email="dana@example.com", phone="+19495550123",
        ),
    ),
    "sparse": (
        webhook({"uri": INVITEE_URI, "email": "solo@example.com", "name": "Solo", "questions_and_answers": []}),
        lead({}, sender_id=INVITEE_URI, firstname="Solo", email="solo@example.com"),
    ),
    "nasty": (
        webhook(invitee(
            first_name="  Zoë ",
            last_name="O'Brien-Ñúñez",
            name="Zoë O'Brien-Ñúñez",
            email="zoe+leads@Example.COM",
            text_reminder_number="+1 404-555-1234",
            questions_and_answers=[
                {"question": "email", "answer": "other@example.com", "position": 0},
                {"question": "Tools you use", "answer": "Trello\nAdobe Creative Cloud", "position": 1},
                {"question": "Budget", "answer": "Tom &amp; Jerry &lt;10k&gt;", "position": 2},
                {"question": "", "answer": "untitled answer", "position": 3},
                {"question": "Skipped", "answer": None, "position": 4},
                {"question": "Numbers", "answer": 123456789012345678901, "position": 5},
            ],
            tracking={"utm_source": "newsletter", "salesforce_uuid": "00Q5e00000AbCdE"},
            scheduled_event={"name": "Call with us", "start_time": "2025-03-21T09:00:00Z",
                             "location": {"type": "outbound_call", "location": "+44 20 7946 0958"}},
            timezone=None,
        )),
        lead(
            {
                "Name": "Zoë O'Brien-Ñúñez",
                "Text reminder number": "+1 404-555-1234",
                "email": "other@example.com",
                "Tools you use": "Trello\nAdobe Creative Cloud",
                "Budget": "Tom & Jerry <10k>",
                "question 3": "untitled answer",
                "Numbers": "123456789012345678901",
                "Event": "Call with us",
                "Start time": "2025-03-21T09:00:00Z",
                "utm_source": "newsletter",
                "salesforce_uuid": "00Q5e00000AbCdE",
            },
            sender_id=INVITEE_URI,
            firstname="Zoë", lastname="O'Brien-Ñúñez", email="zoe+leads@example.com", phone="+442079460958",
        ),
    ),
    "no uri": (
        webhook({"email": "a@example.com", "name": "A B", "text_reminder_number": "4045551234"}),
        lead({}, sender_id=None, firstname="A", lastname="B", email="a@example.com", phone="+14045551234"),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_body_maps(name):
    raw, expected = CASES[name]

    mapped = map_body("calendly", raw, "application/json")

    assert_lead(mapped, expected)


def test_own_keys_labelled_for_people():
    # With the phone mapped to a question, Calendly's own keys become extras:
    # they keep their keys for [fields] and [extras], and show labels for people.
    raw = webhook(invitee(
        first_name="Ana", last_name="Ruiz", text_reminder_number="+1 404-555-1234",
        questions_and_answers=[{"question": "Cell", "answer": "(404) 555-9999", "position": 0}],
        scheduled_event={"name": "Site visit", "start_time": "2025-03-22T10:00:00Z",
                         "location": {"type": "outbound_call", "location": "+1 404 555 7777"}},
        tracking=None,
    ))

    mapped = map_body("calendly", raw, "application/json", fields={"phone": "Cell"},
                      extras={"Reminders": "text_reminder_number", "Meeting": "scheduled_event.name"})

    assert_lead(mapped, lead(
        [
            ("Reminders", "+1 404-555-1234"),
            ("Meeting", "Site visit"),
            ("Name", "Dana Prospect"),
            ("Number to call", "+1 404 555 7777"),
            ("Start time", "2025-03-22T10:00:00Z"),
            ("Time zone", "America/Chicago"),
        ],
        sender_id=INVITEE_URI,
        firstname="Ana", lastname="Ruiz", email="dana@example.com", phone="+14045559999",
    ))


def test_questions_mappable_by_text():
    raw = webhook(invitee(questions_and_answers=[
        {"question": "Best number to reach you", "answer": "+1 312 555 0147", "position": 0},
        {"question": "Company", "answer": "Acme", "position": 1},
    ]))

    mapped = map_body("calendly", raw, "application/json", fields={"phone": "Best number to reach you"},
                      extras={"Firm": "company"}, extras_unmapped=False)

    assert mapped["phone"] == "+13125550147"
    assert list(mapped["extras"].items()) == [("Firm", "Acme")]


@pytest.mark.parametrize(
    ("event", "payload", "message"),
    [
        ("invitee.canceled", invitee(status="canceled"), "subscribe the webhook to invitee.created"),
        ("invitee_no_show.created", {"uri": "x", "invitee": INVITEE_URI}, "only invitee.created"),
        ("routing_form_submission.created", {"questions_and_answers": []}, "only invitee.created"),
        ("invitee.created", invitee(old_invitee=INVITEE_URI.replace("AAAA", "BBBB")), "rescheduled"),
    ],
)
def test_other_events_ignored(event, payload, message):
    with pytest.raises(IgnoredEvent, match=message):
        map_body("calendly", webhook(payload, event=event), "application/json")


@pytest.mark.parametrize(
    ("raw", "content_type", "message"),
    [
        ("email=a%40example.com", "application/x-www-form-urlencoded", "event name and a payload"),
        ('{"email": "a@example.com"}', "application/json", "event name and a payload"),
        ('{"event": "invitee.created", "payload": "x"}', "application/json", "payload object"),
        ('{"event": "invitee.created", "payload": {"event": {}, "invitee": {"email": "a@example.com"}}}',
         "application/json", "v1 webhook"),
    ],
)
def test_foreign_body_rejected(raw, content_type, message):
    with pytest.raises(BadBody, match=message):
        map_body("calendly", raw, content_type)


# --- Through the app: the signature and what reaches PhoneBurner ----------------


COMMON_PARAMS = [
    ("key", "vendor-key-for-tests-0001"), ("user_id", "123456"), ("cm_id", "YYYY"),
    ("firstname", "Dana"), ("lastname", "Prospect"), ("email", "dana@example.com"), ("phone", "9495550123"),
    ("question[0]", "Company"), ("answer[0]", "Prospect & Co"),
    ("question[1]", "Event"), ("answer[1]", "Discovery call"),
    ("question[2]", "Start time"), ("answer[2]", "2025-03-20T15:00:00.000000Z"),
    ("question[3]", "Time zone"), ("answer[3]", "America/Chicago"),
    ("question[4]", "utm_source"), ("answer[4]", "google"),
    ("question[5]", "utm_campaign"), ("answer[5]", "spring"),
]


def signed_app(secrets=("old-key-for-rotation", SECRET)):
    return app_client("calendly", auth="signature", signing_secret=list(secrets))


def digest(body: bytes, stamp: str = str(NOW), secret: str = SECRET) -> str:
    return hmac_hex(secret, stamp.encode() + b"." + body)


def sign(body: bytes, stamp: str = str(NOW), secret: str = SECRET) -> dict[str, str]:
    return {"Calendly-Webhook-Signature": f"t={stamp},v1={digest(body, stamp, secret)}",
            "Content-Type": "application/json"}


def body_only_digest(body: bytes) -> str:
    return hmac_hex(SECRET, body)


def with_header(value: str) -> dict[str, str]:
    return {"Calendly-Webhook-Signature": value, "Content-Type": "application/json"}


def test_signed_event_delivered(frozen, pb):
    pb.get(PB_URL, body=SUCCESS)
    raw = webhook(invitee()).encode()

    response = signed_app().post("/v1/leads/landing", data=raw, headers=sign(raw))

    assert response.status_code == 201
    assert sent_params(pb) == COMMON_PARAMS


@pytest.mark.parametrize(
    "header",
    [
        lambda raw: sign(raw, secret=SECRET),
        lambda raw: with_header(f"t={NOW},v1={'0' * 64},v1={digest(raw)}"),
        lambda raw: with_header(f" v1={digest(raw)} , t={NOW} ,v0=ignored"),
    ],
    ids=["first secret", "second v1", "reordered with spaces"],
)
def test_valid_variants_accepted(frozen, pb, header):
    pb.get(PB_URL, body=SUCCESS)
    raw = webhook(invitee()).encode()

    client = signed_app(secrets=(SECRET, "newer-key-for-rotation"))
    response = client.post("/v1/leads/landing", data=raw, headers=header(raw))

    assert response.status_code == 201


def test_token_source_delivers(pb):
    pb.get(PB_URL, body=SUCCESS)
    client = app_client("calendly")

    response = client.post(f"/v1/leads/landing?token={TOKEN}", data=webhook(invitee()),
                           content_type="application/json")

    assert response.status_code == 201
    assert sent_params(pb) == COMMON_PARAMS


def test_cancellation_answers_200(frozen, pb):
    raw = webhook(invitee(status="canceled"), event="invitee.canceled").encode()

    response = signed_app().post("/v1/leads/landing", data=raw, headers=sign(raw))

    assert response.status_code == 200
    assert response.get_json()["status"] == "ignored"
    assert len(pb.calls) == 0


REJECTED = {
    "tampered body": lambda raw: (raw.replace(b"Prospect", b"Prospekt"), sign(raw)),
    "wrong secret": lambda raw: (raw, sign(raw, secret="not-the-key")),
    "stale timestamp": lambda raw: (raw, sign(raw, stamp=str(NOW - 301))),
    "future timestamp": lambda raw: (raw, sign(raw, stamp=str(NOW + 301))),
    "milliseconds": lambda raw: (raw, sign(raw, stamp=str(NOW * 1000))),
    "timestamp not signed": lambda raw: (raw, with_header(f"t={NOW},v1={body_only_digest(raw)}")),
    "missing header": lambda raw: (raw, {"Content-Type": "application/json"}),
    "empty header": lambda raw: (raw, with_header("")),
    "garbage": lambda raw: (raw, with_header("not a signature")),
    "missing t": lambda raw: (raw, with_header(f"v1={digest(raw)}")),
    "missing v1": lambda raw: (raw, with_header(f"t={NOW}")),
    "two t": lambda raw: (raw, with_header(f"t={NOW},t={NOW + 1},v1={digest(raw)}")),
    "wrong prefix": lambda raw: (raw, with_header(f"t={NOW},sha256={digest(raw)}")),
    "non-hex v1": lambda raw: (raw, with_header(f"t={NOW},v1={'zz' * 32}")),
    "truncated v1": lambda raw: (raw, with_header(f"t={NOW},v1={digest(raw)[:-1]}")),
    "empty v1": lambda raw: (raw, with_header(f"t={NOW},v1=")),
    "base64 v1": lambda raw: (raw, with_header(f"t={NOW},v1=q83vEjRWeJA=")),
    "garbage t": lambda raw: (raw, with_header(f"t=yesterday,v1={digest(raw)}")),
    "negative t": lambda raw: (raw, with_header(f"t=-{NOW},v1={digest(raw)}")),
    "superscript t": lambda raw: (raw, with_header(f"t=²,v1={digest(raw)}")),
    "non-ascii v1": lambda raw: (raw, with_header(f"t={NOW},v1={'é' * 64}")),
}


@pytest.mark.parametrize("name", REJECTED)
def test_bad_signature_rejected(frozen, pb, name):
    raw = webhook(invitee()).encode()
    body, headers = REJECTED[name](raw)

    response = signed_app().post("/v1/leads/landing", data=body, headers=headers)

    assert response.status_code == 401
    assert response.get_json()["reason"] == "unauthorized"
    assert len(pb.calls) == 0
