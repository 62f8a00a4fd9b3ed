"""Login throttling, API authentication (tokens, no Basic auth, throttles), the
Content-Security-Policy header and password reset only with mail configured (issue 10)."""

from __future__ import annotations

import base64

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests.conftest import PASSWORD


def _login(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_failed_logins_lock_the_account_with_a_429_and_a_clear_message(researcher, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    codes = [
        _login(client, researcher.username, "wrong", ip=f"10.0.0.{n}").status_code for n in range(3)
    ]
    assert codes == [200, 200, 429]  # the third failure reaches the limit
    # the right password from yet another address: the account is locked for the cool-off
    locked = _login(client, researcher.username, PASSWORD, ip="10.0.0.9")
    assert locked.status_code == 429
    assert b"Too many failed logins" in locked.content
    assert "_auth_user_id" not in client.session


def test_failed_logins_from_one_address_lock_that_address(researcher, labeler, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    for name in ("a", "b", "c"):  # spraying several accounts from one address
        _login(client, name, "wrong", ip="10.0.0.7")
    assert _login(client, researcher.username, PASSWORD, ip="10.0.0.7").status_code == 429
    # another address still logs in
    assert _login(Client(), labeler.username, PASSWORD, ip="10.0.0.8").status_code == 302


def test_a_good_login_still_works(researcher):
    response = _login(Client(), researcher.username, PASSWORD)
    assert response.status_code == 302


def test_basic_auth_is_not_accepted_by_the_api(researcher):
    credentials = base64.b64encode(f"{researcher.username}:{PASSWORD}".encode()).decode()
    response = Client().get("/api/projects/", HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert response.status_code in (401, 403)


def test_a_user_creates_and_rotates_an_api_token_shown_once(as_persona, researcher):
    client = as_persona("researcher")
    assert b"no token yet" in client.get("/account/token/").content
    first = client.post("/account/token/")
    key = Token.objects.get(user=researcher).key
    assert key.encode() in first.content
    assert key.encode() not in client.get("/account/token/").content  # shown once
    api = Client()
    assert api.get("/api/projects/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    client.post("/account/token/")  # rotate: the old key stops working
    new_key = Token.objects.get(user=researcher).key
    assert new_key != key
    assert api.get("/api/projects/", HTTP_AUTHORIZATION=f"Token {key}").status_code in (401, 403)
    assert api.get("/api/projects/", HTTP_AUTHORIZATION=f"Token {new_key}").status_code == 200


def test_the_token_page_needs_a_login():
    response = Client().get("/account/token/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_the_api_is_throttled(as_persona, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    # the rates DRF read from CHORUS_API_THROTTLE_USER / _ANON at import, lowered here
    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/minute", "anon": "2/minute"}
    )
    client = as_persona("researcher")
    codes = [client.get("/api/projects/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


@pytest.mark.parametrize("path", ["/accounts/login/", "/api/docs/", "/healthz"])
def test_every_response_carries_a_content_security_policy(client, path, as_persona):
    response = as_persona("researcher").get(path)
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";")[0]


@pytest.mark.parametrize(
    "path",
    ["/accounts/password_reset/", "/accounts/password_reset/done/", "/accounts/reset/done/"],
)
def test_password_reset_is_hidden_without_mail(client, path, settings):
    settings.CHORUS_EMAIL_HOST = ""
    assert client.get(path).status_code == 404
    assert b"password_reset" not in client.get("/accounts/login/").content
    settings.CHORUS_EMAIL_HOST = "smtp.example.org"
    assert client.get(path).status_code == 200
    assert b"/accounts/password_reset/" in client.get("/accounts/login/").content
