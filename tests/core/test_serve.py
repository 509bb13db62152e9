"""`fengqiao serve` hands the WSGI application to waitress with a bounded thread pool."""

import pytest
from django.core.management import CommandError, call_command


def test_serve_passes_the_application_and_the_pool_to_waitress(monkeypatch):
    calls = []
    monkeypatch.setattr("waitress.serve", lambda app, **kwargs: calls.append((app, kwargs)))
    call_command("serve", "192.0.2.10:8123", "--threads", "8")
    from fengqiao.wsgi import application

    ((app, kwargs),) = calls
    assert app is application
    assert kwargs["host"] == "192.0.2.10" and kwargs["port"] == 8123 and kwargs["threads"] == 8
    assert kwargs["connection_limit"] == 1000


@pytest.mark.parametrize("argv", [["nohost"], ["127.0.0.1:80", "--threads", "0"]])
def test_serve_refuses_bad_arguments(monkeypatch, argv):
    monkeypatch.setattr("waitress.serve", lambda app, **kwargs: pytest.fail("must not serve"))
    with pytest.raises(CommandError):
        call_command("serve", *argv)
