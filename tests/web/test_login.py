"""Staff sign-in: works, and failed attempts are throttled per username and address."""

import pytest
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "pass-word-123"


def post_login(client, username, password):
    return client.post(reverse("web:login"), {"username": username, "password": password},
                       REMOTE_ADDR="10.0.0.7", HTTP_ACCEPT_LANGUAGE="en")


def test_sign_in_and_out(client):
    UserFactory(username="clerk")
    response = post_login(client, "clerk", PASSWORD)
    assert response.status_code == 302 and response.url == reverse("web:home")
    assert client.get(reverse("web:notifications")).status_code == 200
    client.post(reverse("web:logout"))
    assert client.get(reverse("web:notifications")).status_code == 302


def test_a_wrong_password_is_said_plainly(client):
    UserFactory(username="clerk")
    response = post_login(client, "clerk", "wrong")
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_repeated_failures_lock_the_username_for_a_while(client, settings):
    UserFactory(username="clerk")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_login(client, "clerk", "wrong")
    locked = post_login(client, "clerk", PASSWORD)  # even the right password waits now
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert client.get(reverse("web:notifications")).status_code == 302  # not signed in
    # another user from the same address is not affected
    UserFactory(username="other")
    assert post_login(client, "other", PASSWORD).status_code == 302
