"""Who may call: personal bearer tokens and the browser session (with CSRF), nobody else."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from fengqiao.api.tokens import api_token_create, api_token_revoke, hash_token
from fengqiao.org.models import ApiToken
from tests.api.conftest import create_body

pytestmark = pytest.mark.django_db


def _get(client, path="/api/v1/cases", **headers):
    return client.get(path, headers=headers, secure=True)


def test_without_credentials_every_operation_answers_401(client, loop):
    for response in (_get(client), _get(client, "/api/v1/cases/X-1"), _get(client, "/api/v1/categories"),
                     client.post("/api/v1/cases", "{}", content_type="application/json", secure=True),
                     client.post("/api/v1/cases/X-1/accept", "{}", content_type="application/json", secure=True)):
        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == "not_authenticated"


def test_a_token_is_stored_as_its_hash_only(loop):
    created = api_token_create(user=loop.operator, name="dispatch console")
    assert created.plain.startswith("fq_") and len(created.plain) > 40
    row = ApiToken.objects.get()
    assert row.key_hash == hash_token(created.plain) and row.prefix == created.plain[:8]
    assert created.plain not in [str(v) for v in ApiToken.objects.values().get().values()]


def test_tokens_work_until_revoked_or_expired(client, loop, clock):
    created = api_token_create(user=loop.operator, name="t", expires_at=clock.now + timedelta(days=1))
    bearer = {"Authorization": f"Bearer {created.plain}"}
    assert _get(client, **bearer).status_code == 200
    assert ApiToken.objects.get().last_used_at == clock.now

    for wrong in ("Bearer fq_not-a-token", f"Token {created.plain}", f"Bearer {created.plain}x", "Bearer "):
        assert _get(client, Authorization=wrong).status_code == 401

    clock.now += timedelta(days=2)
    assert _get(client, **bearer).status_code == 401
    other = api_token_create(user=loop.operator, name="u")
    assert _get(client, Authorization=f"Bearer {other.plain}").status_code == 200
    api_token_revoke(token=other.token)
    assert _get(client, Authorization=f"Bearer {other.plain}").status_code == 401


def test_an_inactive_user_is_refused(client, loop):
    created = api_token_create(user=loop.operator, name="t")
    loop.operator.is_active = False
    loop.operator.save()
    assert _get(client, Authorization=f"Bearer {created.plain}").status_code == 401
    client.force_login(loop.operator)
    assert _get(client).status_code == 401


def test_session_auth_needs_the_csrf_token_for_writes(loop, clock):
    case = loop.report()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(loop.operator)
    assert _get(browser).status_code == 200  # reading needs no CSRF token

    url = f"/api/v1/cases/{case.number}/accept"
    refused = browser.post(url, '{"version": 1}', content_type="application/json", secure=True,
                           headers={"Referer": "https://testserver/"})
    assert refused.status_code == 403 and refused.json()["errors"][0]["code"] == "csrf_failed"

    token = _get(browser, "/api/v1/csrf").json()["csrf_token"]
    assert browser.cookies["csrftoken"].value
    accepted = browser.post(url, '{"version": 1}', content_type="application/json", secure=True,
                            headers={"X-CSRFToken": token, "Referer": "https://testserver/"})
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["state"] == "accepted"


def test_a_bearer_token_needs_no_csrf_token(loop, clock):
    created = api_token_create(user=loop.grid_worker, name="phone")
    app = Client(enforce_csrf_checks=True)
    response = app.post("/api/v1/cases", create_body(loop), content_type="application/json", secure=True,
                        headers={"Authorization": f"Bearer {created.plain}"})
    assert response.status_code == 201


def test_the_command_prints_a_working_token_once(client, loop):
    out = StringIO()
    call_command("api_token", "create", loop.operator.username, "--name", "integration", stdout=out,
                 stderr=StringIO())
    plain = out.getvalue().strip()
    assert plain.startswith("fq_") and ApiToken.objects.get().name == "integration"
    assert _get(client, Authorization=f"Bearer {plain}").status_code == 200

    listing = StringIO()
    call_command("api_token", "list", stdout=listing)
    assert plain[:8] in listing.getvalue() and plain not in listing.getvalue()
    call_command("api_token", "revoke", plain[:8], stdout=StringIO())
    assert _get(client, Authorization=f"Bearer {plain}").status_code == 401

    with pytest.raises(CommandError):
        call_command("api_token", "create", "nobody", "--name", "x", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("api_token", "create", loop.operator.username, "--name", " ", stdout=StringIO())
