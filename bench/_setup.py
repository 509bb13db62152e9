"""Shared set-up of the case benchmarks (bench/intake.py, bench/sweep.py); not a benchmark itself.

Each measurement runs in a fresh database of its own: a new SQLite file in a private temporary
directory, or a PostgreSQL database dropped and created again on 127.0.0.1:5432 (user postgres).
Nothing here touches ./var or the databases the tests use.
"""

from __future__ import annotations

import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_DSN = os.environ.get("BENCH_PG_DSN", "host=127.0.0.1 port=5432 user=postgres")
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
DATABASES = ("sqlite", "postgres")


# -- databases -------------------------------------------------------------------------------------
def fresh_postgres(name: str) -> str:
    """Drop and create database `name`; its URL."""
    import psycopg

    with psycopg.connect(f"{PG_DSN} dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_URL}/{name}"


def database_url(database: str, name: str, workdir: str) -> str:
    if database == "sqlite":
        path = Path(workdir) / f"{name}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    return fresh_postgres(name)


def configure(url: str, workdir: str) -> dict[str, str]:
    """Environment of this process and of any server it starts: the database, a private var dir."""
    env = {
        "DJANGO_SETTINGS_MODULE": "fengqiao.settings",
        "FENGQIAO_DATABASE_URL": url,
        "FENGQIAO_VAR_DIR": workdir,
        "FENGQIAO_LOG_LEVEL": "WARNING",
        "FENGQIAO_DEMO_PASSWORD": "bench-demo-password",
        # debug off, plain HTTP on loopback (no TLS redirect, no secure-only cookies, no HSTS)
        "FENGQIAO_DEBUG": "0",
        "FENGQIAO_SSL_REDIRECT": "0",
        "FENGQIAO_SECURE_COOKIES": "0",
        "FENGQIAO_HSTS_SECONDS": "0",
        "FENGQIAO_ALLOWED_HOSTS": "127.0.0.1",
    }
    os.environ.update(env)
    return env


def setup_django(database: str, name: str, workdir: str) -> tuple[str, dict[str, str]]:
    """Configure, set Django up, migrate a fresh database; (url, environment)."""
    sys.path.insert(0, str(ROOT))
    url = database_url(database, name, workdir)
    env = configure(url, workdir)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url, env


def build_township() -> dict[str, int]:
    from fengqiao.demo.build import build_demo

    return build_demo().counts


def vacuum_analyse() -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def table_columns(table: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        return [c.name for c in connection.introspection.get_table_description(cursor, table)]


# -- figures ---------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def latency_summary(seconds: list[float]) -> dict[str, float]:
    return {
        "p50_ms": 1000 * percentile(seconds, 50),
        "p95_ms": 1000 * percentile(seconds, 95),
        "p99_ms": 1000 * percentile(seconds, 99),
        "mean_ms": 1000 * statistics.fmean(seconds) if seconds else float("nan"),
    }


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
              for r in rows]
    return "\n".join(lines)


@contextmanager
def stopwatch(into: dict, key: str):
    start = time.perf_counter()
    yield
    into[key] = time.perf_counter() - start


def machine() -> str:
    import platform

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu or platform.machine()}), Python {platform.python_version()}"


def postgres_version() -> str:
    try:
        import psycopg

        with psycopg.connect(f"{PG_DSN} dbname=postgres") as conn:
            row = conn.execute("SHOW server_version").fetchone()
            sync = conn.execute("SHOW synchronous_commit").fetchone()
            return f"PostgreSQL {row[0]} (synchronous_commit={sync[0]})"
    except Exception as exc:  # noqa: BLE001 - only a label
        return f"PostgreSQL unavailable ({exc.__class__.__name__})"


def sqlite_version() -> str:
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL)"


# -- one child process per database ----------------------------------------------------------------
RESULT_MARK = "BENCH-RESULT "


def emit(result: dict) -> None:
    """A child's result, on one line of its standard output."""
    print(RESULT_MARK + json.dumps(result, default=str), flush=True)


def run_children(script: Path, databases: list[str], argv: list[str]) -> list[dict]:
    """Run `script --child --database D argv` for each database (Django is set up once per process),
    streaming the child's output, and collect the results it emits."""
    results = []
    for database in databases:
        print(f"\n=== {database} ===", flush=True)
        process = subprocess.Popen([PYTHON, str(script), "--child", "--database", database, *argv],  # noqa: S603
                                   stdout=subprocess.PIPE, text=True, cwd=str(ROOT))
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(RESULT_MARK):
                results.append(json.loads(line[len(RESULT_MARK):]))
            else:
                print(line, end="", flush=True)
        if process.wait() != 0:
            print(f"!! the {database} run failed (exit {process.returncode})", flush=True)
    return results


def private_workdir(prefix: str) -> str:
    return tempfile.mkdtemp(prefix=prefix)


def clean_up(database: str, name: str, workdir: str) -> None:
    """Remove what a run made: its temporary directory and, on PostgreSQL, its database."""
    import shutil

    from django.db import connection

    connection.close()
    shutil.rmtree(workdir, ignore_errors=True)
    if database == "postgres":
        import psycopg

        with psycopg.connect(f"{PG_DSN} dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- statements ------------------------------------------------------------------------------------
PACKAGE = str(ROOT / "fengqiao") + os.sep
_VERB = re.compile(r"^\s*(SELECT|INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|SAVEPOINT|RELEASE\s+SAVEPOINT"
                   r"|ROLLBACK\s+TO\s+SAVEPOINT|BEGIN|COMMIT)\b", re.IGNORECASE)
_TABLE_AFTER_VERB = re.compile(r'^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.IGNORECASE)
_TABLE_AFTER_FROM = re.compile(r'\bFROM\s+"?(\w+)', re.IGNORECASE)


def statement_kind(sql: str) -> str:
    """'SELECT cases_case', 'INSERT notify_message', 'SAVEPOINT', ..."""
    m = _VERB.match(sql)
    if not m:
        return (sql.split() or ["?"])[0].upper()
    verb = " ".join(m.group(1).upper().split())
    if verb.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")):
        return verb
    found = (_TABLE_AFTER_FROM if verb == "SELECT" else _TABLE_AFTER_VERB).search(sql)
    if found is None and len(sql) >= 1000:
        return f"{verb.split()[0]} (a long column list; the server's copy of the text stops before FROM)"
    return f"{verb.split()[0]} {found.group(1) if found else '?'}"


def statement_origin() -> str:
    """The innermost frame of the package (fengqiao/, not Django, not bench/) that led to the statement."""
    for frame in reversed(traceback.extract_stack()):
        if frame.filename.startswith(PACKAGE):
            return f"{frame.filename[len(PACKAGE):]}:{frame.name}"
    return "(outside the package)"


def count_statements(function) -> tuple[object, Counter, int]:
    """Run `function()` recording every SQL statement by origin and kind: (result, counter, total).

    Commits do not pass through Django's execute wrappers: they are counted by wrapping the
    connection's commit, and on PostgreSQL the BEGIN the driver sends before each transaction's
    first statement is counted with them (SQLite's BEGIN is an ordinary statement)."""
    from django.db import connection

    seen: Counter = Counter()

    def wrapper(execute, sql, params, many, context):
        seen[f"{statement_origin()} -> {statement_kind(sql)}"] += 1
        return execute(sql, params, many, context)

    commit = connection._commit

    def counting_commit(*args, **kwargs):
        seen["(transaction) -> COMMIT"] += 1
        if connection.vendor == "postgresql":
            seen["(transaction) -> BEGIN (sent by the driver)"] += 1
        return commit(*args, **kwargs)

    connection._commit = counting_commit
    try:
        with connection.execute_wrapper(wrapper):
            result = function()
    finally:
        del connection._commit
    return result, seen, sum(seen.values())


def profile(function, top: int = 30, where: str = r"fengqiao|django/db/backends|psycopg|sqlite3") -> str:
    """cProfile of `function()`: the entries whose path matches `where` (default: the package's and
    the database drivers') by cumulative time, then every entry by own time; paths shortened."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    function()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(where, top)
    stats.sort_stats("tottime").print_stats(15)
    text = re.sub(r"/\S*/site-packages/", "", out.getvalue())
    text = re.sub(r"/\S*/lib/python3\.\d+/", "", text)
    return text.replace(str(ROOT) + "/", "")


# -- PostgreSQL's view of a run ---------------------------------------------------------------------
class ActivitySampler(threading.Thread):
    """PostgreSQL only: every 50 ms, what the server's connections (backends) of the benchmark database are doing
    (waiting for a row lock in which statement, running, or idle inside an open transaction while
    the application computes)."""

    def __init__(self, url: str, states: tuple[str, ...] = ("active", "idle in transaction")):
        super().__init__(daemon=True)
        self.states = states
        self.dbname = url.rsplit("/", 1)[-1]
        self.samples = 0
        self.seen: Counter = Counter()
        self.stop = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(f"{PG_DSN} dbname={self.dbname}", autocommit=True) as conn:
            while not self.stop.wait(0.05):
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event, query FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend' AND state = ANY(%s)", [list(self.states)]).fetchall()
                self.samples += 1
                for state, wait_type, wait_event, query in rows:
                    if state == "idle in transaction":
                        what = "idle in transaction (the application computes, locks held)"
                    elif state == "idle":
                        what = "idle between transactions (the application computes)"
                    elif wait_type == "Lock":
                        what = f"waits for a lock ({wait_event}) in {statement_kind(query)}"
                    elif wait_type:
                        what = f"waits ({wait_type}:{wait_event}) in {statement_kind(query)}"
                    else:
                        what = f"runs {statement_kind(query)}"
                    self.seen[what] += 1

    def summary(self) -> list[tuple[str, float]]:
        return [(what, count / max(self.samples, 1)) for what, count in self.seen.most_common(12)]


class ServerCounters:
    """PostgreSQL only: WAL written and blocks read outside shared buffers between two points."""

    def __init__(self) -> None:
        self.start = self._read()

    @staticmethod
    def _read() -> tuple:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_force_next_flush()")
            cursor.execute("SELECT pg_current_wal_lsn(), blks_read, blks_hit FROM pg_stat_database "
                           "WHERE datname = current_database()")
            return cursor.fetchone()

    def delta(self) -> dict:
        from django.db import connection

        lsn, read, hit = self._read()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_wal_lsn_diff(%s, %s)", [lsn, self.start[0]])
            wal = float(cursor.fetchone()[0])
        return {"wal_mb": wal / 1e6, "blocks_read": read - self.start[1], "blocks_hit": hit - self.start[2]}
