"""Intake rate limits: per client IP before anything else, per source once authenticated."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from limits import parse
from limits.errors import StorageError
from prometheus_client import REGISTRY

from app.intake import ratelimits
from tests.conftest import PB_URL, SUCCESS, TOKEN, auth, build_app
from tests.redis_server import keys_under

LEAD = {"first_name": "Jeff", "email": "jeff@example.com"}
WRONG = {"Authorization": "Bearer wrong-token-xxxxxxxx"}
BROWSER = {"Origin": "https://www.acme.example"}


@pytest.fixture
def limited(document):
    """The test configuration with a second token source and generous limits, tightened by each test."""
    document["sources"]["other"] = {"customer": "acme", "tokens": [TOKEN]}
    document["limits"] = {"per_ip": "100/minute", "per_source": "100/minute"}
    return document


def post(client, source="landing", headers=None, peer="203.0.113.5", **kwargs):
    return client.post(
        f"/v1/leads/{source}",
        data=kwargs.pop("data", LEAD),
        headers=auth() if headers is None else headers,
        environ_overrides={"REMOTE_ADDR": peer},
        **kwargs,
    )


def browser_client(document, pb, *, per_ip_browser: str):
    """Return a test client of an app with a browser-form source named "form" and the given per-IP limit."""
    document["limits"]["per_ip_browser"] = per_ip_browser
    document["sources"]["form"] = {"customer": "acme", "auth": "none", "allowed_origins": [BROWSER["Origin"]]}
    pb.get(PB_URL, body=SUCCESS)
    return build_app(document).test_client()


def statuses(responses) -> list[int]:
    return [response.status_code for response in responses]


def counts_in_memory(app) -> bool:
    """Return whether the app's limits have switched from their storage to the in-memory fallback."""
    return app.extensions[ratelimits.EXTENSION].counter.in_memory


def rate_limited_count(limit: str) -> float:
    return REGISTRY.get_sample_value("relay_rate_limited_total", {"limit": limit}) or 0.0


class TestPerIp:
    def test_unauthenticated_requests_count(self, limited, pb):
        limited["limits"]["per_ip"] = "2/minute"
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(limited).test_client()

        answers = [post(client, headers=WRONG), post(client, headers={}), post(client)]

        assert statuses(answers) == [401, 401, 429]
        assert len(pb.calls) == 0

    def test_checked_before_body_is_read(self, limited, pb):
        limited["limits"].update(per_ip="1/minute", max_body_bytes=2048)
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(limited).test_client()

        first = post(client)
        oversized = post(client, data={"note": "x" * 4000})

        assert first.status_code == 201
        assert oversized.status_code == 429

    def test_unknown_sources_share_one_count(self, limited):
        limited["limits"]["per_ip"] = "1/minute"
        client = build_app(limited).test_client()

        answers = [post(client, source="nope-1"), post(client, source="nope-2")]

        assert statuses(answers) == [404, 429]

    def test_each_source_counted_apart(self, limited, pb):
        limited["limits"]["per_ip"] = "1/minute"
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(limited).test_client()

        answers = [post(client), post(client, source="other"), post(client)]

        assert statuses(answers) == [201, 201, 429]

    def test_each_client_counted_apart(self, limited, pb):
        limited["limits"]["per_ip"] = "1/minute"
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(limited).test_client()

        answers = [post(client, peer="203.0.113.5"), post(client, peer="203.0.113.6"), post(client, peer="203.0.113.5")]

        assert statuses(answers) == [201, 201, 429]

    def test_forwarded_client_counted_through_trusted_proxy(self, limited, pb):
        limited["limits"]["per_ip"] = "1/minute"
        limited["server"] = {"trusted_proxies": ["10.0.0.0/8"]}
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(limited).test_client()

        def via_proxy(client_address):
            return post(client, peer="10.0.0.2", headers={**auth(), "X-Forwarded-For": client_address})

        answers = [via_proxy("198.51.100.1"), via_proxy("198.51.100.2"), via_proxy("198.51.100.1")]

        assert statuses(answers) == [201, 201, 429]

    @pytest.mark.parametrize(
        "addresses",
        [
            ["2001:db8::1", "2001:db8::2", "2001:db8::ffff:3", "2001:db8:0:1::1"],
            ["2001:db8::1%z1", "2001:db8::1%z2", "2001:db8::1%z3", "2001:db8:0:1::1%z1"],
        ],
        ids=["addresses", "zone-ids"],
    )
    def test_ipv6_counted_per_network(self, limited, pb, addresses):
        limited["limits"]["per_ip"] = "2/minute"
        limited["server"] = {"trusted_proxies": ["10.0.0.0/8"]}
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(limited).test_client()

        def via_proxy(client_address):
            return post(client, peer="10.0.0.2", headers={**auth(), "X-Forwarded-For": client_address})

        answers = [via_proxy(address) for address in addresses]

        # The first three share 2001:db8::/64; the last is in another /64.
        assert statuses(answers) == [201, 201, 429, 201]

    def test_source_override(self, limited, pb):
        limited["sources"]["landing"]["ip_rate_limit"] = "1/minute"
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(limited).test_client()

        answers = [post(client), post(client), post(client, source="other")]

        assert statuses(answers) == [201, 429, 201]

    def test_still_applies_after_source_check(self, limited, pb):
        # Both limits count the same requests here, and the per-IP limit must still apply once the per-source one has.
        limited["limits"]["per_ip"] = "2/minute"
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(limited).test_client()

        answers = [post(client), post(client), post(client)]

        assert statuses(answers) == [201, 201, 429]
        assert "address" in answers[2].get_json()["message"]

    def test_browser_source_has_stricter_default(self, limited, pb):
        client = browser_client(limited, pb, per_ip_browser="2/minute")

        answers = [post(client, source="form", headers=BROWSER) for _ in range(3)]

        assert statuses(answers) == [201, 201, 429]
        assert post(client).status_code == 201

    def test_preflights_counted_apart_from_posts(self, limited, pb):
        client = browser_client(limited, pb, per_ip_browser="1/minute")

        def preflight():
            return client.options("/v1/leads/form", headers=BROWSER, environ_overrides={"REMOTE_ADDR": "203.0.113.5"})

        answers = [preflight(), post(client, source="form", headers=BROWSER), preflight()]

        assert statuses(answers) == [204, 201, 429]


class TestUnknownSource:
    def test_not_found_after_accepted_lead(self, limited, pb, caplog):
        # An accepted lead has counted the per-source limit, which an unknown source must not reach.
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(limited).test_client()

        accepted = post(client)
        unknown = post(client, source="nosuch", headers={}, data={"x": "1"})

        assert accepted.status_code == 201
        assert unknown.status_code == 404
        assert unknown.get_json()["reason"] == "not_found"
        assert "rate_limit.storage_unavailable" not in [record.msg for record in caplog.records]


    def test_breach_names_per_ip_key(self, limited):
        limited["limits"]["per_ip"] = "1/minute"
        client = build_app(limited).test_client()

        answers = [post(client, source="nope-1"), post(client, source="nope-2")]

        assert statuses(answers) == [404, 429]
        message = answers[1].get_json()["message"]
        assert "[limits].per_ip" in message
        assert "unknown sources" in message
        assert "sources.-unknown-" not in message


class TestNoFallbackWithoutStorageError:
    """Only a storage error may switch the limits to memory, whatever the request holds."""

    @pytest.mark.parametrize(
        ("source", "headers", "peer"),
        [
            ("nosuch", {}, "203.0.113.5"),
            ("-unknown-", {}, "203.0.113.5"),
            ("%C3%A9t%C3%A9", {}, "203.0.113.5"),
            ("x" * 500, {}, "203.0.113.5"),
            ("landing", {"X-Forwarded-For": "not-an-ip, ::ffff:zz"}, "10.0.0.2"),
            ("landing", {}, ""),
        ],
    )
    def test_request_content_keeps_storage(self, limited, pb, source, headers, peer):
        limited["server"] = {"trusted_proxies": ["10.0.0.0/8"]}
        pb.get(PB_URL, body=SUCCESS)
        app = build_app(limited)
        client = app.test_client()
        post(client)

        answer = post(client, source=source, headers={**auth(), **headers}, peer=peer)
        preflight = client.options(f"/v1/leads/{source}", headers=BROWSER, environ_overrides={"REMOTE_ADDR": peer})

        assert answer.status_code in (201, 404)
        assert preflight.status_code < 500
        assert not counts_in_memory(app)

    def test_failing_key_function_keeps_storage(self, limited, pb, monkeypatch, caplog):
        pb.get(PB_URL, body=SUCCESS)
        app = build_app(limited)
        client = app.test_client()

        def broken_client_ip(*args):
            raise ValueError("broken on purpose")

        monkeypatch.setattr(ratelimits, "client_ip", broken_client_ip)
        answers = [post(client), post(client)]

        assert statuses(answers) == [201, 201]
        assert not counts_in_memory(app)
        failures = [record for record in caplog.records if record.msg == "rate_limit.lookup_failed"]
        assert len(failures) == 1
        assert failures[0].levelno == logging.ERROR

    def test_unknown_source_keeps_shared_storage(self, limited, pb, redis_prefix):
        url, prefix = redis_prefix
        limited["limits"].update(storage_url=url, key_prefix=prefix)
        pb.get(PB_URL, body=SUCCESS)
        app = build_app(limited)
        client = app.test_client()

        accepted = post(client)
        unknown = post(client, source="nosuch", headers={}, data={"x": "1"})

        assert accepted.status_code == 201
        assert unknown.status_code == 404
        assert not counts_in_memory(app)
        assert keys_under(url, prefix)


class TestPerSource:
    def test_counts_authenticated_requests_only(self, limited, pb):
        limited["limits"]["per_source"] = "2/minute"
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(limited).test_client()

        refused = [post(client, headers=WRONG) for _ in range(3)]
        accepted = [post(client), post(client)]
        over = post(client)

        assert statuses(refused) == [401, 401, 401]
        assert statuses(accepted) == [201, 201]
        assert over.status_code == 429
        assert "this source's rate limit" in over.get_json()["message"]

    def test_shared_by_all_clients(self, limited, pb):
        limited["limits"]["per_source"] = "2/minute"
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(limited).test_client()

        answers = [post(client, peer=f"203.0.113.{number}") for number in range(1, 4)]

        assert statuses(answers) == [201, 201, 429]

    def test_other_sources_unaffected(self, limited, pb):
        limited["limits"]["per_source"] = "1/minute"
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(limited).test_client()

        answers = [post(client), post(client), post(client, source="other")]

        assert statuses(answers) == [201, 429, 201]

    def test_source_override(self, limited, pb):
        limited["sources"]["other"]["rate_limit"] = "1/minute"
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(limited).test_client()

        answers = [post(client, source="other"), post(client, source="other"), post(client)]

        assert statuses(answers) == [201, 429, 201]
        assert "sources.other.rate_limit" in answers[1].get_json()["message"]


@pytest.mark.parametrize(
    ("reset", "now", "expected"),
    [
        (1060.6, 1000.5, (61, 1061)),
        (1060.1, 1000.5, (60, 1061)),
        (1060.0, 1000.0, (60, 1060)),
        (1000.2, 1000.1, (1, 1001)),
        # The window ended between the breach and this reading: retry at once, in a second at the latest.
        (999.0, 1000.5, (1, 1001)),
    ],
)
def test_retry_times_round_window_end_up(reset, now, expected):
    assert ratelimits.retry_times(reset, now) == expected


def test_shared_reset_not_before_window_end(redis_prefix):
    url, prefix = redis_prefix
    counter = ratelimits.FailOpenCounter(url)
    item = parse("1/minute")
    started = time.time()
    counter.hit(item, prefix, "198.51.100.7")

    # 59.4 s are left, which Redis reports as 59.
    time.sleep(0.6)

    assert counter.reset_at(item, prefix, "198.51.100.7") >= started + 60


class TestAnswer:
    def test_envelope_and_headers(self, limited, pb):
        limited["limits"]["per_source"] = "1/minute"
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(limited).test_client()
        post(client)

        response = post(client)

        assert response.status_code == 429
        document = response.get_json()
        assert document["status"] == "error"
        assert document["reason"] == "rate_limited"
        assert "1 per 1 minute" in document["message"]
        retry_after = response.headers["Retry-After"]
        assert retry_after.isdigit()
        assert 1 <= int(retry_after) <= 60
        assert response.headers["X-RateLimit-Limit"] == "1"
        assert response.headers["X-RateLimit-Remaining"] == "0"
        assert response.headers["X-RateLimit-Reset"].isdigit()

    def test_always_200_source_keeps_429(self, limited, pb):
        limited["sources"]["landing"].update(response_mode="always_200", rate_limit="1/minute")
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(limited).test_client()

        answers = [post(client), post(client)]

        assert statuses(answers) == [200, 429]

    def test_breach_counted_and_logged(self, limited, pb, caplog):
        limited["limits"]["per_ip"] = "1/minute"
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(limited).test_client()
        before = rate_limited_count("ip")

        for _ in range(4):
            post(client)

        assert rate_limited_count("ip") == before + 3
        records = [record for record in caplog.records if record.msg == "request.rate_limited"]
        assert len(records) == 1
        assert records[0].limit == "ip"
        assert records[0].source == "landing"
        assert records[0].refused == 1
        assert "203.0.113.5" not in caplog.text

    def test_success_carries_no_retry_after(self, limited, pb):
        pb.get(PB_URL, body=SUCCESS)

        response = post(build_app(limited).test_client())

        assert response.status_code == 201
        assert "Retry-After" not in response.headers


def test_health_and_status_not_limited(limited, pb):
    limited["limits"].update(per_ip="1/minute", per_source="1/minute")
    limited["admin"] = {"token": "admin-token-for-tests-0001"}
    pb.get(PB_URL, body=SUCCESS)
    client = build_app(limited).test_client()
    lead_id = post(client).get_json()["lead_id"]
    admin = {"Authorization": "Bearer admin-token-for-tests-0001"}

    answers = [client.get("/healthz") for _ in range(3)]
    answers += [client.get(f"/v1/leads/{lead_id}", headers=admin) for _ in range(3)]

    assert statuses(answers) == [200] * 6


class TestStorageOutage:
    @pytest.fixture
    def unreachable_redis(self, limited) -> dict:
        # No server listens on this port, so every connection is refused at once.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        limited["limits"]["storage_url"] = f"redis://127.0.0.1:{port}/0"
        return limited

    def test_fails_open(self, unreachable_redis, pb):
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(unreachable_redis).test_client()

        answers = [post(client, peer=f"203.0.113.{number}") for number in range(1, 4)]

        assert statuses(answers) == [201, 201, 201]

    def test_logged_once_and_counted(self, unreachable_redis, pb, caplog):
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(unreachable_redis).test_client()
        before = REGISTRY.get_sample_value("relay_rate_limit_memory_fallback_total") or 0.0

        for _ in range(3):
            post(client)

        outages = [record for record in caplog.records if record.msg == "rate_limit.storage_unavailable"]
        assert len(outages) == 1
        assert outages[0].levelno == logging.ERROR
        assert outages[0].storage == "redis"
        assert REGISTRY.get_sample_value("relay_rate_limit_memory_fallback_total") == before + 3

    def test_process_still_counts_in_memory(self, unreachable_redis, pb):
        unreachable_redis["limits"]["per_ip"] = "2/minute"
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(unreachable_redis).test_client()

        answers = [post(client) for _ in range(3)]

        assert statuses(answers) == [201, 201, 429]


    def test_recovers_when_storage_answers(self, limited, pb, redis_prefix, caplog, monkeypatch):
        url, prefix = redis_prefix
        limited["limits"].update(storage_url=url, key_prefix=prefix)
        pb.get(PB_URL, body=SUCCESS)
        app = build_app(limited)
        client = app.test_client()
        counter = app.extensions[ratelimits.EXTENSION].counter

        def unreachable(*args):
            raise StorageError(ConnectionError("connection refused"))

        monkeypatch.setattr(counter.shared, "hit", unreachable)
        during = post(client)
        monkeypatch.delattr(counter.shared, "hit")
        too_soon = post(client)
        # The storage is checked again one second after it failed, not before.
        in_memory_until_then = counts_in_memory(app)
        counter.clock = lambda: time.monotonic() + 2
        after = post(client)

        assert statuses([during, too_soon, after]) == [201, 201, 201]
        assert in_memory_until_then
        assert not counts_in_memory(app)
        assert keys_under(url, prefix)
        messages = [record.msg for record in caplog.records if record.name == "relay.limits"]
        assert messages == ["rate_limit.storage_unavailable", "rate_limit.storage_recovered"]


class TestSharedStorage:
    def test_retry_after_within_window(self, limited, pb, redis_prefix):
        url, prefix = redis_prefix
        limited["limits"].update(storage_url=url, key_prefix=prefix, per_source="1/minute")
        pb.get(PB_URL, body=SUCCESS)
        client = build_app(limited).test_client()
        post(client)

        response = post(client)

        assert response.status_code == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 60

    def test_apps_sharing_redis_count_together(self, limited, pb, redis_prefix):
        url, prefix = redis_prefix
        limited["limits"].update(storage_url=url, key_prefix=prefix, per_source="3/minute")
        pb.get(PB_URL, body=SUCCESS)
        # Two apps stand for two processes: only the shared storage links their counts.
        first, second = build_app(limited).test_client(), build_app(limited).test_client()

        answers = [post(first), post(second), post(first), post(second)]

        assert statuses(answers) == [201, 201, 201, 429]
        assert keys_under(url, prefix)
