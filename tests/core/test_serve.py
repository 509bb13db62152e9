"""`fengqiao serve`: gunicorn worker processes of threads, started for real."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from fengqiao.core.management.commands import serve
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_serve_hands_gunicorn_its_processes_threads_and_limits(monkeypatch):
    started = []
    monkeypatch.setattr(serve.Server, "run", lambda self: started.append(self.settings))
    call_command("serve", "192.0.2.10:8123", "--workers", "3", "--threads", "4")
    ((settings,),) = [started]
    assert settings["bind"] == "192.0.2.10:8123" and settings["workers"] == 3 and settings["threads"] == 4
    assert settings["worker_class"] == "gthread" and settings["worker_connections"] == 1000
    call_command("serve", "[::1]:8124", "--workers", "1")
    assert started[1]["bind"] == "[::1]:8124"


@pytest.mark.parametrize("argv", [["nohost"], ["127.0.0.1:80", "--threads", "0"], ["127.0.0.1:80", "--workers", "0"]])
def test_serve_refuses_bad_arguments(monkeypatch, argv):
    monkeypatch.setattr(serve.Server, "run", lambda self: pytest.fail("must not serve"))
    with pytest.raises(CommandError):
        call_command("serve", *argv)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return [int(child) for task in tasks.iterdir() for child in (task / "children").read_text().split()]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from Linux's /proc")
def test_serve_answers_from_two_worker_processes(tmp_path):
    port = _free_port()
    env = {**os.environ, "FENGQIAO_VAR_DIR": str(tmp_path), "FENGQIAO_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "FENGQIAO_DEBUG": "0", "FENGQIAO_SSL_REDIRECT": "0", "FENGQIAO_ALLOWED_HOSTS": "127.0.0.1"}
    server = subprocess.Popen([sys.executable, "-m", "fengqiao.cli", "serve", f"127.0.0.1:{port}", "--workers", "2",  # noqa: S603
                               "--threads", "2"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:  # noqa: S310
                    assert answer.status == 200 and b'"ok"' in answer.read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(server.stdout.read().decode() if server.stdout else "no output") from None
                time.sleep(0.2)
        wait_until(lambda: len(_children(server.pid)) == 2, seconds=30)  # gunicorn starts them one by one
    finally:
        server.send_signal(signal.SIGTERM)  # a graceful stop: the workers finish what they hold
        assert server.wait(timeout=40) == 0
