"""Fixtures for the notification tests: in-memory mail/SMS, a task backend per test, a webhook receiver."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from email.message import Message as Headers
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fengqiao.notify import sms

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
DUMMY = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@pytest.fixture(autouse=True)
def _notify_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.NOTIFY_SMS_BACKEND = "fengqiao.notify.sms.LocmemSMSBackend"
    # by default the on-commit delivery task only records that it was enqueued; tests that want the
    # task to run right away switch to the immediate backend (fixture `immediate_tasks`)
    settings.TASKS = DUMMY
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture
def immediate_tasks(settings):
    settings.TASKS = IMMEDIATE


@pytest.fixture
def enqueued(settings):
    """The tasks enqueued during the test (dummy backend)."""
    from django_tasks import default_task_backend

    default_task_backend.clear()
    return default_task_backend.results


@dataclass
class Received:
    path: str
    headers: Headers
    body: bytes


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records webhook POSTs and answers with queued statuses."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in order; 200 once exhausted


@pytest.fixture
def receiver():
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            rec.requests.append(Received(path=self.path, headers=self.headers, body=body))
            status = rec.statuses.pop(0) if rec.statuses else 200
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_port}/hook"
    yield rec
    server.shutdown()
    server.server_close()
    thread.join()
