"""Console: login, logout, sessions, CSRF, the login throttle, security headers, and the console being off."""

from __future__ import annotations

import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from app.console.sessions import LoginThrottle
from tests.conftest import build_app
from tests.console.conftest import ADMIN_TOKEN, add_lead, csrf_token, log_in, post_form

ROOT = Path(__file__).resolve().parents[2]
LEAD = "0123456789abcdef0123456789abcdef"
PAGES = ["/console/", "/console/leads", "/console/leads?status=dead", f"/console/leads/{LEAD}", "/console/customers",
         "/console/no-such-page"]
ACTIONS = ["/console/logout", f"/console/leads/{LEAD}/replay", "/console/leads/replay",
           "/console/customers/acme/resume"]


def session_cookie(response) -> SimpleCookie:
    cookie = SimpleCookie()
    for header in response.headers.getlist("Set-Cookie"):
        cookie.load(header)
    return cookie


@pytest.mark.parametrize("path", PAGES)
def test_page_needs_login(anonymous, path):
    response = anonymous.get(path)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login?next=")


@pytest.mark.parametrize("path", ACTIONS)
def test_action_needs_login(anonymous, store, path):
    lead_id = add_lead(store, status="dead")
    path = path.replace(LEAD, lead_id)

    response = post_form(anonymous, path, {"lead_ids": lead_id}, form_page="/console/login")

    assert response.status_code == 303
    assert response.headers["Location"] == "/console/login"
    assert store.get(lead_id)["status"] == "dead"


def test_login_page_shows_no_personal_data(anonymous, store):
    add_lead(store, email="grace.hopper@example.com")

    html = anonymous.get("/console/login").get_data(as_text=True)

    assert "grace.hopper" not in html


def test_login_returns_to_requested_page(anonymous):
    response = log_in(anonymous, ADMIN_TOKEN, next="/console/customers")

    assert response.status_code == 303
    assert response.headers["Location"] == "/console/customers"
    assert anonymous.get("/console/customers").status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/console/", "/v1/leads/x", "/console/\\x"])
def test_login_ignores_outside_next(anonymous, target):
    response = log_in(anonymous, ADMIN_TOKEN, next=target)

    assert response.headers["Location"] == "/console/"


def test_wrong_token_rejected(anonymous):
    response = log_in(anonymous, "not-the-admin-token-000")

    assert response.status_code == 401
    assert "wrong token" in response.get_data(as_text=True)
    assert anonymous.get("/console/").status_code == 302


def test_empty_token_rejected(anonymous):
    response = log_in(anonymous, "")

    assert response.status_code == 400
    assert "enter the admin token" in response.get_data(as_text=True)


def test_logout_ends_session(operator):
    response = post_form(operator, "/console/logout")

    assert response.status_code == 303
    assert response.headers["Location"] == "/console/login"
    assert operator.get("/console/").status_code == 302


def test_logged_out_cookie_replayed_fails(console_app, operator):
    # The server keeps no sessions, so logging out clears only this browser's cookie. A copy taken
    # earlier stays valid until the session's lifetime ends or the admin token changes.
    stolen = operator.get_cookie("relay_console", path="/console").value
    post_form(operator, "/console/logout")
    other = console_app.test_client()
    other.set_cookie("relay_console", stolen, path="/console")

    assert operator.get("/console/").status_code == 302
    assert other.get("/console/").status_code == 200


def test_session_cookie_flags(anonymous):
    anonymous.get("/console/login")
    response = log_in(anonymous, ADMIN_TOKEN)

    morsel = session_cookie(response)["relay_console"]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"
    assert morsel["path"] == "/console"
    assert not morsel["secure"]
    assert morsel["expires"]


def test_session_cookie_secure_behind_https(console_document, pb):
    console_document["server"] = {"public_url": "https://relay.example.com"}
    client = build_app(console_document).test_client()

    response = log_in(client, ADMIN_TOKEN)

    assert session_cookie(response)["relay_console"]["secure"] is True


def test_session_expires_after_session_hours(console_document, pb, monkeypatch):
    console_document["admin"]["session_hours"] = 1
    client = build_app(console_document).test_client()
    log_in(client, ADMIN_TOKEN)
    assert client.get("/console/").status_code == 200

    later = time.time() + 3601
    monkeypatch.setattr("app.console.sessions.time.time", lambda: later)

    assert client.get("/console/").status_code == 302


def test_rotated_token_logs_out(console_document, pb):
    console_document["admin"]["session_secret"] = "s" * 40
    client = build_app(console_document).test_client()
    log_in(client, ADMIN_TOKEN)
    cookie = client.get_cookie("relay_console", path="/console").value

    console_document["admin"]["token"] = "rotated-admin-token-0002"
    rotated = build_app(console_document).test_client()
    rotated.set_cookie("relay_console", cookie, path="/console")

    assert rotated.get("/console/").status_code == 302


def test_bearer_token_reads_pages(anonymous):
    response = anonymous.get("/console/", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    assert response.status_code == 200


def test_bearer_token_reads_head(anonymous):
    response = anonymous.head("/console/leads", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    assert response.status_code == 200


def test_login_page_head(anonymous):
    response = anonymous.head("/console/login")

    assert response.status_code == 200


def test_page_head_needs_login(anonymous):
    response = anonymous.head("/console/leads")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login?next=")


def test_bearer_token_cannot_post(anonymous, store):
    lead_id = add_lead(store, status="dead")

    response = anonymous.post(f"/console/leads/{lead_id}/replay", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    assert response.status_code == 400
    assert store.get(lead_id)["status"] == "dead"


def test_wrong_bearer_token_redirected(anonymous):
    response = anonymous.get("/console/", headers={"Authorization": "Bearer wrong-token-0000000000"})

    assert response.status_code == 302


# --- CSRF -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ACTIONS)
@pytest.mark.parametrize("token", [None, "wrong-token", "IjEyMyI.Z2xv.YmFk"])
def test_post_without_valid_csrf_rejected(operator, store, path, token):
    lead_id = add_lead(store, status="dead")
    store.hold("acme", "UNKNOWN USER", now=time.time())
    data = {"lead_ids": lead_id} if token is None else {"lead_ids": lead_id, "csrf_token": token}

    response = operator.post(path.replace(LEAD, lead_id), data=data)

    assert response.status_code == 400
    assert "The form was rejected" in response.get_data(as_text=True)
    assert store.get(lead_id)["status"] == "dead"
    assert "acme" in store.holds()
    assert operator.get("/console/").status_code == 200


def test_login_without_csrf_rejected(anonymous):
    response = anonymous.post("/console/login", data={"token": ADMIN_TOKEN})

    assert response.status_code == 400
    assert anonymous.get("/console/").status_code == 302


def test_csrf_token_of_another_session_rejected(console_app, operator, store):
    lead_id = add_lead(store, status="dead")
    foreign = csrf_token(console_app.test_client())

    response = operator.post(f"/console/leads/{lead_id}/replay", data={"csrf_token": foreign})

    assert response.status_code == 400
    assert store.get(lead_id)["status"] == "dead"


# --- throttle ---------------------------------------------------------------------


def test_login_throttled_after_failures(console_app, anonymous):
    console_app.extensions["console.login_throttle"] = LoginThrottle(max_failures=3, window=600)
    for _ in range(3):
        assert log_in(anonymous, "wrong-token-000000000").status_code == 401

    response = log_in(anonymous, ADMIN_TOKEN)

    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 600
    assert anonymous.get("/console/").status_code == 302


def test_login_throttle_per_address(console_app):
    console_app.extensions["console.login_throttle"] = LoginThrottle(max_failures=1, window=600)
    attacker = console_app.test_client()
    log_in(attacker, "wrong-token-000000000")
    colleague = console_app.test_client()

    response = colleague.post("/console/login", environ_base={"REMOTE_ADDR": "192.0.2.7"},
                              data={"csrf_token": csrf_token(colleague), "token": ADMIN_TOKEN})

    assert response.status_code == 303


def test_throttle_forgets_after_window():
    now = [1000.0]
    throttle = LoginThrottle(max_failures=2, window=60, clock=lambda: now[0])
    throttle.record_failure("192.0.2.1")
    throttle.record_failure("192.0.2.1")
    assert throttle.retry_after("192.0.2.1") == 60

    now[0] += 61

    assert throttle.retry_after("192.0.2.1") is None


def test_throttle_reset_on_success():
    throttle = LoginThrottle(max_failures=1, window=60)
    throttle.record_failure("192.0.2.1")

    throttle.reset("192.0.2.1")

    assert throttle.retry_after("192.0.2.1") is None


# --- headers and the console being off -------------------------------------------


@pytest.mark.parametrize("path", ["/console/login", "/console/", "/console/static/console.css"])
def test_security_headers(operator, path):
    response = operator.get(path)
    response.close()

    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_no_inline_script_or_style(operator):
    html = operator.get("/console/").get_data(as_text=True)

    assert "<script>" not in html
    assert "style=" not in html
    assert "<style" not in html


@pytest.mark.parametrize("path", ["/console/", "/console/login", "/console/leads", "/console/static/console.css"])
def test_console_off_without_admin_token(client, path):
    response = client.get(path)
    response.close()

    assert response.status_code == 404
    assert "Set [admin].token" in response.get_data(as_text=True)


@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS"])
@pytest.mark.parametrize("path", ["/console", "/console/", "/console/leads"])
def test_console_off_every_method_404(client, method, path):
    response = client.open(path, method=method)

    assert response.status_code == 404
    assert "The console is off" in response.get_data(as_text=True)


def test_console_off_page_has_security_headers(client):
    response = client.get("/console/")

    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_console_off_modules_unimported():
    # The console's forms and views cost memory in every web worker, so a relay without it never imports them.
    script = (
        "import sys\n"
        "from tests.conftest import base_document, build_app\n"
        "build_app(base_document())\n"
        "print(sorted(name for name in ('flask_wtf', 'wtforms', 'app.console.views') if name in sys.modules))\n"
    )
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)

    assert finished.stdout.splitlines()[0] == "[]"


def test_console_off_rejects_login(client):
    response = client.post("/console/login", data={"token": ADMIN_TOKEN})

    assert response.status_code == 404
    assert "relay_console" not in response.headers.get("Set-Cookie", "")
