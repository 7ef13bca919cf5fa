"""The simplest relay a user could write instead: the benchmark's yardstick.

Flask and requests only: parse the JSON body, build the put_contact query,
call PhoneBurner with one pooled session per process, and return
PhoneBurner's status and body. No authentication, validation, storage,
retries or logging. Serve it as the relay is served:

    PHONEBURNER_URL=... PHONEBURNER_VENDOR_KEY=... PHONEBURNER_USER_ID=... PHONEBURNER_CM_ID=... \
        gunicorn -k gevent -w 2 --worker-connections 1000 bench.minimal_relay:app
"""

from __future__ import annotations

import os

import requests
from flask import Flask, request
from requests.adapters import HTTPAdapter

# Sender field -> PhoneBurner field; every other field becomes a question and answer.
FIELDS = {
    "first_name": "firstname",
    "last_name": "lastname",
    "email": "email",
    "phone": "phone",
    "address1": "address1",
    "city": "city",
    "state": "state",
    "zip": "zip",
}

URL = os.environ.get("PHONEBURNER_URL", "http://127.0.0.1:8081/api/vendor/put_contact")
CREDENTIALS = {
    "key": os.environ.get("PHONEBURNER_VENDOR_KEY", ""),
    "user_id": os.environ.get("PHONEBURNER_USER_ID", ""),
    "cm_id": os.environ.get("PHONEBURNER_CM_ID", ""),
}
POOL_SIZE = int(os.environ.get("RELAY_POOL_SIZE", "1000"))

app = Flask(__name__)
session = requests.Session()
session.mount("http://", HTTPAdapter(pool_maxsize=POOL_SIZE))


def put_contact_params(lead: dict) -> dict[str, str]:
    """Map a flat JSON lead onto put_contact's parameters."""
    params = dict(CREDENTIALS)
    extras = []
    for name, value in lead.items():
        if name in FIELDS:
            params[FIELDS[name]] = str(value)
        else:
            extras.append((name, str(value)))

    for index, (question, answer) in enumerate(extras):
        params[f"question[{index}]"] = question
        params[f"answer[{index}]"] = answer
    return params


@app.post("/v1/leads/<source>")
def relay(source: str):
    """Forward one lead and return PhoneBurner's reply as it came."""
    reply = session.get(URL, params=put_contact_params(request.get_json()), timeout=(3.05, 10))
    return reply.text, reply.status_code, {"Content-Type": "text/plain; charset=utf-8"}
