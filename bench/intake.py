"""Case intake: the service layer and the HTTP API, against a raw insert of the same rows in the same run.

    .venv/bin/python bench/intake.py [--database sqlite|postgres|both] [--cases 100000] [--max-seconds 150]
                                     [--bulk-cases N] [--chunk 500]
                                     [--http-cases N] [--http-seconds 60] [--clients 16] [--http-batch N]
                                     [--quick]

For each database, in a fresh database of its own (SQLite in a private temporary directory;
PostgreSQL database `bench_intake` on 127.0.0.1, dropped and created again):

1. migrate and build the demo township (`build_demo()`, without its year of generated history
   unless --with-history; the history is made through the services and takes minutes);
2. service layer: `case_report(actor=operator, channel=hotline, ...)` for N random points inside
   the demo grids and random leaf categories (points and inputs drawn up front); per-call latency
   and cases/s; the phase stops early after --max-seconds (default 150 s; 0: no limit);
   then the service layer in bulk: `case_import(actor=operator, channel=hotline, ...)` of
   --bulk-cases more such reports (default: as many), --chunk (500) a call and a transaction;
   latency per call (shown per case), cases/s, and the same --max-seconds;
3. baseline: the very rows the service layer wrote, read back and inserted again into the cases
   table with raw `executemany` (batches of 1,000 rows, a commit per batch), through the same
   connection; then deleted again. Also a raw single-row INSERT + COMMIT per row (2,000 rows):
   the floor of one transaction per case;
4. statements: 200 more `case_report` calls and 100 POST /api/v1/cases through Django's test
   client (in process) with every SQL statement recorded, by the function of the package that
   issued it (statements per call); before them 300 timed POSTs through the test client: the
   cost of the API without a server and a network;
5. HTTP: a server process (see below) on 127.0.0.1, an API token for the demo operator, C client
   threads on keep-alive
   connections POSTing /api/v1/cases with an Idempotency-Key each, until --http-cases requests or
   --http-seconds have passed (after 10 s of one client alone: the time of a request without
   queueing); a refused connection is retried with the same key. Then: cases in the database ==
   successful creates, and 50 retries with used keys create nothing new. On PostgreSQL the
   server's connections are sampled meanwhile (running, waiting for a lock, idle in transaction).
   With --http-batch N each request is POST /api/v1/cases/batch of N rows (one Idempotency-Key
   a batch; a retried batch must answer with the same cases): cases/s counts cases, the latency
   is a request's.
   The server is `fengqiao serve` (gunicorn: a worker process per CPU, 8 threads each) unless
   --runserver asks for Django's
   development server (threaded, one connection per client); with --nodelay that one's connections
   set TCP_NODELAY, as production servers do.

Targets (issue, 2-core machine, PostgreSQL): service layer >= 1,000 cases/s; HTTP >= 300
creates/s with p95 < 100 ms. With --profile N (automatic when the PostgreSQL service layer misses
its target) N further calls run under cProfile and the top entries are printed. With --ablation N,
N more calls run in turns as they are, with notifications muted, without the duplicate search, and
with both switched off (patched in the benchmark's process only), to show what each part costs.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _setup  # noqa: E402

TARGET_SERVICE = 1000.0  # cases/s, PostgreSQL
TARGET_HTTP = 300.0  # creates/s, PostgreSQL
TARGET_HTTP_P95_MS = 100.0
PROBE_CALLS = 200
API_PROBE_CALLS = 100
API_TIMED_CALLS = 300
PROFILE_CALLS = 2000
RAW_BATCH = 1000
RAW_SINGLE_ROWS = 2000
RETRY_CHECKS = 50
SERIAL_SECONDS = 10.0
DESCRIPTIONS = ["井盖缺失，行人有危险", "路灯不亮已有一周", "路边垃圾堆放多日未清运", "夜间施工噪声扰民",
                "电线杆上贴满小广告", "村道积水严重", "餐馆油烟直排扰民", "消火栓漏水"]


# -- inputs, drawn before anything is timed ------------------------------------------------------
def draw_inputs(n: int, seed: int) -> list[dict]:
    import numpy as np
    import shapely

    from fengqiao.cases.models import Category
    from fengqiao.geo.geometry import to_shape
    from fengqiao.geo.models import Grid

    rng = np.random.default_rng(seed)
    grids = [(g.code, to_shape(g.geometry)) for g in Grid.objects.filter(parent__isnull=True).order_by("code")]
    categories = list(Category.objects.filter(is_active=True, children__isnull=True).order_by("code"))
    per_grid = np.bincount(rng.integers(0, len(grids), n), minlength=len(grids))
    points: list[tuple[float, float]] = []
    for (_code, shape), want in zip(grids, per_grid, strict=True):
        minx, miny, maxx, maxy = shape.bounds
        got: list[tuple[float, float]] = []
        while len(got) < want:
            # rounded as a phone would send them, then tested: a rounded point near the outline may leave it
            xs = np.round(rng.uniform(minx, maxx, 2 * want + 8), 6)
            ys = np.round(rng.uniform(miny, maxy, 2 * want + 8), 6)
            inside = shapely.contains_xy(shape, xs, ys)
            got += [(float(x), float(y)) for x, y in zip(xs[inside], ys[inside], strict=True)]
        points += got[:want]
    order = rng.permutation(n)
    picks = rng.integers(0, len(categories), n)
    texts = rng.integers(0, len(DESCRIPTIONS), n)
    return [{"lon": points[int(o)][0], "lat": points[int(o)][1], "category": categories[int(c)],
             "description": f"{DESCRIPTIONS[int(t)]}（{i}）"} for i, (o, c, t) in enumerate(zip(order, picks, texts, strict=True))]


def report(actor, item: dict):
    from fengqiao.cases.services import case_report

    return case_report(actor=actor, channel="hotline", category=item["category"], description=item["description"],
                       lon=item["lon"], lat=item["lat"])


# -- statements per call ---------------------------------------------------------------------
def probe(call, items: list[dict]) -> dict:
    """Run `call(item)` for each item with every SQL statement recorded (transaction control
    included); statements per call, by the function of the package that issued them."""

    def run() -> None:
        for item in items:
            call(item)

    _result, seen, total = _setup.count_statements(run)
    n = len(items)
    return {"queries_per_call": total / n, "origins": [(k, v / n) for k, v in seen.most_common()]}


def api_caller(token: str):
    """POST /api/v1/cases in process (Django's test client: the same middleware and views, no server)."""
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")

    def call(item: dict) -> None:
        response = client.post("/api/v1/cases", data=_body([item], 0), content_type="application/json",
                               HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
        if response.status_code != 201:
            raise RuntimeError(f"POST /api/v1/cases answered {response.status_code}: {response.content[:300]!r}")

    return call


def print_probe(title: str, queries: dict, calls: int) -> None:
    print(f"\n  {title}: {queries['queries_per_call']:.1f} statements per call "
          f"(BEGIN/COMMIT included; mean of {calls} calls)")
    print(_indent(_setup.table([[k, f"{v:.2f}"] for k, v in queries["origins"]], ["issued by", "per call"])))


# -- the service layer -----------------------------------------------------------------------
def service_layer(actor, items: list[dict], max_seconds: float) -> dict:
    latencies = []
    n = len(items)
    tick = max(1, n // 10)
    start = time.perf_counter()
    cpu_start = time.process_time()
    stop_at = start + max_seconds if max_seconds > 0 else float("inf")
    for i, item in enumerate(items, start=1):
        t0 = time.perf_counter()
        report(actor, item)
        latencies.append(time.perf_counter() - t0)
        if t0 > stop_at:
            print(f"    stopped after {max_seconds:.0f} s (--max-seconds) at {i:,} cases", flush=True)
            break
        if i % tick == 0:
            recent = latencies[-tick:]
            print(f"    {i:>9,} cases  {i / (time.perf_counter() - start):8.0f} cases/s  "
                  f"p50 of the last {tick:,}: {1000 * _setup.percentile(recent, 50):.2f} ms", flush=True)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    n = len(latencies)
    tenth = max(1, n // 10)
    return {"n": n, "capped": n < len(items), "seconds": elapsed, "cpu_ms": 1000 * cpu / max(n, 1), "rate": n / elapsed, **_setup.latency_summary(latencies),
            "first_tenth_p50_ms": 1000 * _setup.percentile(latencies[:tenth], 50),
            "last_tenth_p50_ms": 1000 * _setup.percentile(latencies[-tenth:], 50)}


def bulk_intake(actor, items: list[dict], chunk: int, max_seconds: float) -> dict:
    """`case_import` of the items, `chunk` reports a call (a transaction each), timed per call."""
    from fengqiao.cases.services import IncomingReport, case_import

    reports = [IncomingReport(category=item["category"], description=item["description"], lon=item["lon"],
                              lat=item["lat"]) for item in items]  # not timed, as the items are not
    latencies = []
    n = 0
    start = time.perf_counter()
    cpu_start = time.process_time()
    stop_at = start + max_seconds if max_seconds > 0 else float("inf")
    for b in range(0, len(reports), chunk):
        t0 = time.perf_counter()
        n += len(case_import(actor=actor, reports=reports[b:b + chunk], channel="hotline", chunk_size=chunk))
        latencies.append(time.perf_counter() - t0)
        if t0 > stop_at:
            print(f"    stopped after {max_seconds:.0f} s (--max-seconds) at {n:,} cases", flush=True)
            break
        if (b // chunk + 1) % 20 == 0:
            print(f"    {n:>9,} cases  {n / (time.perf_counter() - start):8.0f} cases/s  "
                  f"last call {1000 * latencies[-1]:.0f} ms", flush=True)
    elapsed = time.perf_counter() - start
    return {"n": n, "chunk": chunk, "capped": n < len(items), "seconds": elapsed, "rate": n / elapsed,
            "cpu_ms": 1000 * (time.process_time() - cpu_start) / max(n, 1), **_setup.latency_summary(latencies)}


# -- the raw baseline ------------------------------------------------------------------------
def raw_baseline(first_id: int, n: int) -> dict:
    """Insert again, raw, the rows the service layer wrote (new numbers); time it; delete them."""
    from django.db import connection, transaction

    columns = [c for c in _setup.table_columns("cases_case") if c != "id"]
    column_list = ", ".join(f'"{c}"' for c in columns)
    number_at = columns.index("number")
    code_at = columns.index("tracking_code")  # unique too
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT {column_list} FROM "cases_case" WHERE "id" >= %s ORDER BY "id"', [first_id])  # noqa: S608 - column names from the schema
        rows = [list(r) for r in cursor.fetchall()][:n]
    for i, row in enumerate(rows):
        row[number_at], row[code_at] = f"RAW-{i:09d}", f"R{i:09d}"
    rows = [tuple(r) for r in rows]
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f'INSERT INTO "cases_case" ({column_list}) VALUES ({placeholders})'  # noqa: S608

    start = time.perf_counter()
    for b in range(0, len(rows), RAW_BATCH):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, rows[b:b + RAW_BATCH])
    many_seconds = time.perf_counter() - start
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("""DELETE FROM "cases_case" WHERE "number" LIKE 'RAW-%%'""")

    single = [tuple(f"RAW1-{i:09d}" if j == number_at else f"S{i:09d}" if j == code_at else v
                    for j, v in enumerate(row))
              for i, row in enumerate(rows[:RAW_SINGLE_ROWS])]
    latencies = []
    start = time.perf_counter()
    for row in single:
        t0 = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, row)
        latencies.append(time.perf_counter() - t0)
    single_seconds = time.perf_counter() - start
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("""DELETE FROM "cases_case" WHERE "number" LIKE 'RAW1-%%'""")
    return {"n": len(rows), "seconds": many_seconds, "rate": len(rows) / many_seconds,
            "single_n": len(single), "single_rate": len(single) / single_seconds,
            "single_p50_ms": 1000 * _setup.percentile(latencies, 50)}


# -- HTTP ------------------------------------------------------------------------------------
class Server:
    """A server process on a free loopback port, debug off, plain HTTP: `fengqiao serve` (gunicorn,
    one worker process per CPU with a fixed pool of 8 threads each, so at most that many database
    connections) or, with kind="runserver", Django's development server (a thread and a
    connection per client)."""

    def __init__(self, env: dict[str, str], workdir: str, nodelay: bool = False, kind: str = "serve"):
        self.port = _setup.free_port()
        self.kind = kind
        self.log = open(Path(workdir) / f"server-{self.port}.log", "w")  # noqa: SIM115
        server_env = {**os.environ, **env}
        if kind == "serve":
            argv = [_setup.PYTHON, "-m", "fengqiao.cli", "serve", f"127.0.0.1:{self.port}"]
        else:
            command = ([_setup.PYTHON, __file__, "--serve-nodelay"] if nodelay
                       else [_setup.PYTHON, "-m", "fengqiao.cli"])
            argv = [*command, "runserver", f"127.0.0.1:{self.port}", "--noreload"]
        self.process = subprocess.Popen(  # noqa: S603
            argv, cwd=str(_setup.ROOT), env=server_env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}); see {self.log.name}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/api/v1/categories")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the server did not come up")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _row(item: dict) -> dict:
    return {"category": item["category"].code, "description": item["description"], "lon": item["lon"], "lat": item["lat"]}


def _body(items: list[dict], batch: int) -> bytes:
    """A create's body, or with `batch` a batch's of those rows."""
    if batch:
        return json.dumps({"channel": "hotline", "rows": [_row(i) for i in items]}, ensure_ascii=False).encode()
    return json.dumps({**_row(items[0]), "channel": "hotline"}, ensure_ascii=False).encode()


def _numbers(data: bytes, batch: int) -> tuple[str, ...]:
    """The case numbers of a 201 answer: one, or a batch's in order."""
    answer = json.loads(data)
    return tuple(item["number"] for item in answer["items"]) if batch else (answer["number"],)


class Client(threading.Thread):
    def __init__(self, port: int, token: str, jobs, deadline: float, results: list, batch: int = 0):
        super().__init__(daemon=True)
        self.port, self.token, self.jobs, self.deadline, self.results = port, token, jobs, deadline, results
        self.batch, self.path = batch, "/api/v1/cases/batch" if batch else "/api/v1/cases"
        self.conn: http.client.HTTPConnection | None = None

    def send(self, body: bytes, key: str) -> tuple[int, bytes, int]:
        """(status, body, reconnects); a dropped or refused connection is retried with the same key."""
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}",
                   "Idempotency-Key": key, "Accept-Language": "en"}
        for attempt in range(5):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                self.conn.request("POST", self.path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return response.status, data, attempt
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                time.sleep(0.05 * (attempt + 1))
        return 599, b"", 5

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            items = list(itertools.islice(self.jobs, max(1, self.batch)))
            if not items:
                break
            key = str(uuid.uuid4())
            body = _body(items, self.batch)
            t0 = time.perf_counter()
            status, data, reconnects = self.send(body, key)
            elapsed = time.perf_counter() - t0
            numbers = _numbers(data, self.batch) if status == 201 else ()
            self.results.append((status, elapsed, reconnects, key, body, numbers, data[:300] if status != 201 else b""))
        if self.conn is not None:
            self.conn.close()


class _Shared:
    """One iterator over the inputs, shared by the client threads."""

    def __init__(self, items: list):
        self._items = iter(items)
        self._lock = threading.Lock()

    def __iter__(self):
        return self

    def __next__(self):
        with self._lock:
            return next(self._items)


def http_intake(token: str, env: dict[str, str], workdir: str, items: list[dict], clients: int,
                seconds: float, url: str, nodelay: bool, kind: str = "serve", batch: int = 0) -> dict:
    from fengqiao.cases.models import Case, IdempotencyKey

    server = Server(env, workdir, nodelay, kind=kind)
    try:
        server.wait_ready()
        # warm the server's threads and caches (locator, permissions): 2 requests per client, not counted
        warm: list = []
        warm_jobs = _Shared(items[:2 * clients * max(1, batch)])
        warmers = [Client(server.port, token, warm_jobs, time.monotonic() + 60, warm, batch) for _ in range(clients)]
        for c in warmers:
            c.start()
        for c in warmers:
            c.join()
        rest = items[2 * clients * max(1, batch):]
        alone_items, rest = rest[:max(1, len(rest) // 5)], rest[max(1, len(rest) // 5):]
        jobs = _Shared(rest)
        # one client alone first (at most a fifth of the inputs): the time of a request without queueing
        serial: list = []
        alone = Client(server.port, token, iter(alone_items), time.monotonic() + SERIAL_SECONDS, serial, batch)
        alone.run()
        serial_ok = [r[1] for r in serial if r[0] == 201]
        serial_cases = sum(len(r[5]) for r in serial if r[0] == 201)
        before = Case.objects.count()
        keys_before = IdempotencyKey.objects.count()
        results: list = []
        deadline = time.monotonic() + seconds
        workers = [Client(server.port, token, jobs, deadline, results, batch) for _ in range(clients)]
        sampler = _setup.ActivitySampler(url) if url.startswith("postgres") else None
        if sampler:
            sampler.start()
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - start
        if sampler:
            sampler.stop.set()
            sampler.join()
        created = Case.objects.count() - before
        keys = IdempotencyKey.objects.count() - keys_before

        ok = [r for r in results if r[0] == 201]
        errors = Counter(r[0] for r in results if r[0] != 201)
        samples = [r[6] for r in results if r[0] != 201][:3]
        numbers = [number for r in ok for number in r[5]]
        # retries of used keys: the same answer, nothing new written
        retry_jobs = ok[:RETRY_CHECKS]
        retry_client = Client(server.port, token, iter(()), 0, [], batch)
        same = 0
        for _status, _t, _r, key, body, earlier, _d in retry_jobs:
            status, data, _ = retry_client.send(body, key)
            if status == 201 and _numbers(data, batch) == earlier:
                same += 1
        if retry_client.conn is not None:
            retry_client.conn.close()
        after_retries = Case.objects.count() - before
    finally:
        server.stop()
    latencies = [r[1] for r in ok]
    return {
        "requests": len(results), "ok": len(numbers), "ok_requests": len(ok), "batch": batch, "errors": dict(errors), "error_samples": [s.decode(errors="replace") for s in samples],
        "reconnects": sum(r[2] for r in results), "seconds": elapsed, "rate": len(numbers) / max(elapsed, 1e-9),
        **_setup.latency_summary(latencies), "clients": clients,
        "cases_in_db": created, "idempotency_keys": keys, "distinct_numbers": len(set(numbers)),
        "retries": len(retry_jobs), "retries_same_case": same, "cases_after_retries": after_retries,
        "backends": sampler.summary() if sampler else [], "nodelay": nodelay, "server": kind,
        "serial": {"ok": serial_cases, "rate": serial_cases / max(sum(r[1] for r in serial), 1e-9),
                   **_setup.latency_summary(serial_ok)},
        "consistent": created == len(numbers) == len(set(numbers)) and keys == len(ok) and after_retries == created
        and same == len(retry_jobs),
    }


# -- what-if: the same calls with a part switched off in this process ----------------------------
def ablation(actor, items: list[dict], rounds: int = 4) -> list[tuple[str, float, float]]:
    """cases/s and p50 of case_report as is, with notifications muted, without the duplicate
    search, and with both; the variants take turns in `rounds` rounds so that drift hits them alike.
    Nothing of the package is changed: the parts are switched off by patching this process only."""
    from contextlib import ExitStack, nullcontext
    from unittest import mock

    from fengqiao.cases.notifications import muted

    def no_duplicates():
        return mock.patch("fengqiao.cases.selectors.duplicate_candidates", lambda **kwargs: [])

    def both():
        stack = ExitStack()
        stack.enter_context(muted())
        stack.enter_context(no_duplicates())
        return stack

    variants = [("as is", nullcontext), ("notifications muted", muted), ("no duplicate search", no_duplicates),
                ("both switched off", both)]
    times: dict[str, list[float]] = {name: [] for name, _ in variants}
    chunk = max(1, len(items) // (rounds * len(variants)))
    position = 0
    for _round in range(rounds):
        for name, context in variants:
            with context():
                for item in items[position:position + chunk]:
                    t0 = time.perf_counter()
                    report(actor, item)
                    times[name].append(time.perf_counter() - t0)
            position += chunk
    return [(name, len(ts) / sum(ts), 1000 * _setup.percentile(ts, 50)) for name, ts in times.items()]


# -- profile ----------------------------------------------------------------------------------
def profile(actor, items: list[dict]) -> str:
    def run() -> None:
        for item in items:
            report(actor, item)

    return _setup.profile(run)


# -- one database ----------------------------------------------------------------------------
def child(args) -> None:
    import warnings

    warnings.filterwarnings("ignore", "No directory at", UserWarning)  # no collected static files: no matter
    database = args.database
    workdir = _setup.private_workdir(f"bench-intake-{database}-")
    setup: dict = {}
    with _setup.stopwatch(setup, "migrate"):
        url, env = _setup.setup_django(database, "bench_intake", workdir)
    if not args.with_history:
        import fengqiao.demo.build as demo_build

        demo_build.build_history = lambda **kwargs: 0
    with _setup.stopwatch(setup, "demo"):
        counts = _setup.build_township()
    print(f"  database: {_setup.sqlite_version() if database == 'sqlite' else _setup.postgres_version()}")
    print(f"  set-up: migrate {setup['migrate']:.1f} s, demo {setup['demo']:.1f} s "
          f"({counts.get('grids')} grids, {counts.get('staff')} staff, {counts.get('cases', 0)} history cases)")

    from django.contrib.auth import get_user_model
    from django.db import connection

    from fengqiao.api.tokens import api_token_create
    from fengqiao.cases.models import Case

    operator = get_user_model().objects.get(username="operator")
    n_http = args.http_cases
    n_profile = args.profile if args.profile is not None else (PROFILE_CALLS if database == "postgres" else 0)
    t0 = time.perf_counter()
    n_bulk = args.bulk_cases
    items = draw_inputs(PROBE_CALLS + API_PROBE_CALLS + API_TIMED_CALLS + args.cases + n_profile + args.ablation + n_http
                        + 2 * args.clients + n_bulk, seed=7)
    print(f"  inputs drawn in {time.perf_counter() - t0:.1f} s (not timed)")
    probe_items, rest = items[:PROBE_CALLS], items[PROBE_CALLS:]
    api_items, rest = rest[:API_PROBE_CALLS], rest[API_PROBE_CALLS:]
    api_timed_items, rest = rest[:API_TIMED_CALLS], rest[API_TIMED_CALLS:]
    service_items, rest = rest[:args.cases], rest[args.cases:]
    bulk_items, rest = rest[:n_bulk], rest[n_bulk:]
    profile_items, rest = rest[:n_profile], rest[n_profile:]
    ablation_items, http_items = rest[:args.ablation], rest[args.ablation:]

    result: dict = {"database": database, "setup": setup, "counts": counts, "load_before": os.getloadavg()}
    print(f"\n  service layer: {len(service_items):,} x case_report")
    first_id = (Case.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    service = service_layer(operator, service_items, args.max_seconds)
    result["service"] = service

    if bulk_items:
        print(f"\n  service layer in bulk: {len(bulk_items):,} reports through case_import, {args.chunk:,} a call")
        result["bulk"] = bulk_intake(operator, bulk_items, args.chunk, args.max_seconds)

    print(f"\n  raw baseline: executemany of the same {service['n']:,} rows in batches of {RAW_BATCH:,}")
    raw = raw_baseline(first_id, service["n"])
    result["raw"] = raw

    # after the timed run, so that the process caches (locator, time limits, permissions) are warm
    result["queries"] = probe(lambda item: report(operator, item), probe_items)
    print_probe("statements per case_report", result["queries"], len(probe_items))
    token = api_token_create(user=operator, name="intake benchmark").plain
    call_api = api_caller(token)
    latencies = []
    for item in api_timed_items:
        t0 = time.perf_counter()
        call_api(item)
        latencies.append(time.perf_counter() - t0)
    result["api_in_process"] = {"n": len(latencies), "rate": len(latencies) / sum(latencies),
                                **_setup.latency_summary(latencies)}
    result["api_queries"] = probe(call_api, api_items)
    print_probe("statements per POST /api/v1/cases (in process, no server)", result["api_queries"], len(api_items))

    if args.profile or (args.profile is None and n_profile and service["rate"] < TARGET_SERVICE):
        service_profile_items, api_profile_items = profile_items[: n_profile // 2], profile_items[n_profile // 2:]
        print(f"\n  profile of {len(service_profile_items):,} more case_report calls (cProfile)")
        result["profile"] = profile(operator, service_profile_items)
        print(_indent(result["profile"]))
        print(f"\n  profile of {len(api_profile_items):,} more POST /api/v1/cases in process (cProfile)")
        result["api_profile"] = _setup.profile(lambda: [call_api(item) for item in api_profile_items], top=45,
                                               where=r"fengqiao|django|ninja|pydantic|psycopg|sqlite3")
        print(_indent(result["api_profile"]))

    if args.ablation:
        print(f"\n  what-if: {args.ablation:,} case_report calls, parts switched off in this process")
        result["ablation"] = ablation(operator, ablation_items)
        print(_indent(_setup.table([[name, f"{rate:,.0f}", f"{p50:.2f}"] for name, rate, p50 in result["ablation"]],
                                   ["case_report", "cases/s", "p50 ms"])))

    if n_http and args.http_seconds > 0:
        connection.close()  # the server process gets the database to itself between phases
        print(f"\n  HTTP: up to {n_http:,} creates or {args.http_seconds:.0f} s, {args.clients} clients, "
              + (f"batches of {args.http_batch} rows (POST /api/v1/cases/batch), " if args.http_batch else "")
              + ("runserver (threaded" + (", TCP_NODELAY)" if args.nodelay else ")") if args.runserver
                 else f"fengqiao serve (gunicorn, {os.cpu_count()} workers of 8 threads)"))
        result["http"] = http_intake(token, env, workdir, http_items, args.clients, args.http_seconds, url,
                                     args.nodelay, "runserver" if args.runserver else "serve", args.http_batch)
        h = result["http"]
        print(f"    {h['ok']:,} created in {h['seconds']:.1f} s; errors {h['errors'] or 0}; "
              f"reconnects {h['reconnects']}; consistent: {h['consistent']}")
        for sample in h["error_samples"]:
            print(f"    error sample: {sample}")
        if h["backends"]:
            print("    PostgreSQL connections during the run (mean number in each state, sampled every 50 ms):")
            print(_indent(_setup.table([[k, f"{v:.2f}"] for k, v in h["backends"]], ["connection", "mean"]), "      "))
    result["load_after"] = os.getloadavg()
    print_database(result)
    _setup.emit(result)
    if args.keep or (result.get("http") and result["http"]["errors"]):
        print(f"  kept {workdir} (server log) and the database")
    else:
        _setup.clean_up(database, "bench_intake", workdir)


def _indent(text: str, by: str = "    ") -> str:
    return "\n".join(by + line for line in text.splitlines())


def _ok(flag: bool) -> str:
    return "meets" if flag else "MISSES"


def print_database(r: dict) -> None:
    s, raw = r["service"], r["raw"]
    rows = [
        ["service layer (case_report)", f"{s['n']:,}", f"{s['rate']:,.0f}", f"{s['p50_ms']:.2f}", f"{s['p95_ms']:.2f}",
         f"{s['rate'] / raw['rate']:.4f}  (1/{raw['rate'] / s['rate']:,.0f})"],
        ["raw executemany, 1,000 rows/commit", f"{raw['n']:,}", f"{raw['rate']:,.0f}", "", "", "1"],
        ["raw INSERT + COMMIT per row", f"{raw['single_n']:,}", f"{raw['single_rate']:,.0f}",
         f"{raw['single_p50_ms']:.2f}", "", f"{raw['single_rate'] / raw['rate']:.4f}"],
    ]
    b = r.get("bulk")
    if b:
        rows.insert(1, [f"service layer in bulk (case_import, {b['chunk']:,} a call)", f"{b['n']:,}", f"{b['rate']:,.0f}",
                        f"{b['p50_ms'] / b['chunk']:.2f}", f"{b['p95_ms'] / b['chunk']:.2f}",
                        f"{b['rate'] / raw['rate']:.4f}  (1/{raw['rate'] / b['rate']:,.1f})"])
    a = r["api_in_process"]
    rows.insert(1, ["POST /api/v1/cases in process, no server", f"{a['n']:,}", f"{a['rate']:,.0f}", f"{a['p50_ms']:.1f}",
                    f"{a['p95_ms']:.1f}", f"{a['rate'] / raw['rate']:.4f}  (1/{raw['rate'] / a['rate']:,.0f})"])
    h = r.get("http")
    if h:
        one = h["serial"]
        path = f"/api/v1/cases/batch of {h['batch']}" if h.get("batch") else "/api/v1/cases"
        server = ("fengqiao serve" if h.get("server") == "serve"
                  else "runserver, TCP_NODELAY" if h["nodelay"] else "runserver")
        rows.insert(1, [f"HTTP POST {path}, 1 client ({server})", f"{one['ok']:,}", f"{one['rate']:,.0f}",
                        f"{one['p50_ms']:.1f}", f"{one['p95_ms']:.1f}",
                        f"{one['rate'] / raw['rate']:.4f}  (1/{raw['rate'] / max(one['rate'], 1e-9):,.0f})"])
        rows.insert(1, [f"HTTP POST {path}, {h['clients']} clients ({server})", f"{h['ok']:,}", f"{h['rate']:,.0f}",
                        f"{h['p50_ms']:.1f}", f"{h['p95_ms']:.1f}",
                        f"{h['rate'] / raw['rate']:.4f}  (1/{raw['rate'] / max(h['rate'], 1e-9):,.0f})"])
    print(f"\n  == {r['database']} ==")
    print(_indent(_setup.table(rows, ["path", "cases", "cases/s", "p50 ms", "p95 ms", "ratio to raw executemany"])))
    print(f"    load average (1 min) before {r['load_before'][0]:.1f}, after {r['load_after'][0]:.1f}"
          + ("; the service layer stopped at --max-seconds" if s["capped"] else ""))
    print(f"    statements per case_report: {r['queries']['queries_per_call']:.1f}, per POST /api/v1/cases: "
          f"{r['api_queries']['queries_per_call']:.1f}; CPU of this process per case_report: {s['cpu_ms']:.2f} ms")
    print(f"    service p50 over the first tenth of the run {s['first_tenth_p50_ms']:.2f} ms, "
          f"over the last tenth {s['last_tenth_p50_ms']:.2f} ms")
    if h:
        print(f"    HTTP: {h['requests']:,} requests, {h['ok']:,} created, non-2xx {sum(h['errors'].values()) if h['errors'] else 0}, "
              f"cases in the database {h['cases_in_db']:,}, idempotency keys {h['idempotency_keys']:,}, "
              f"{h['retries_same_case']}/{h['retries']} retries answered with the same case "
              f"-> {'no loss, no duplicates' if h['consistent'] else 'INCONSISTENT'}")
    if b:
        print(f"    bulk: {b['n']:,} cases in {b['seconds']:.1f} s, a call of {b['chunk']:,} p50 {b['p50_ms']:.0f} ms, "
              f"p95 {b['p95_ms']:.0f} ms (the table shows them per case); CPU of this process per case {b['cpu_ms']:.2f} ms")
    if r["database"] == "postgres":
        print(f"    target service >= {TARGET_SERVICE:,.0f}/s: one at a time {_ok(s['rate'] >= TARGET_SERVICE)}"
              + (f", in bulk {_ok(b['rate'] >= TARGET_SERVICE)}" if b else "")
              + (f"; target HTTP >= {TARGET_HTTP:.0f}/s with p95 < {TARGET_HTTP_P95_MS:.0f} ms: "
                 f"{_ok(h['rate'] >= TARGET_HTTP and h['p95_ms'] < TARGET_HTTP_P95_MS)}" if h else ""))


def serve_nodelay(argv: list[str]) -> None:
    """`fengqiao runserver` whose connections set TCP_NODELAY, as production WSGI servers do: the
    development server writes a response's headers and body in two sends, and without it the
    body waits for the client's delayed ACK (about 40 ms on Linux)."""
    import socket

    sys.path.insert(0, str(_setup.ROOT))
    from django.core.servers import basehttp

    from fengqiao.cli import main as fengqiao

    setup = basehttp.WSGIRequestHandler.setup

    def setup_nodelay(self) -> None:
        setup(self)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    basehttp.WSGIRequestHandler.setup = setup_nodelay
    fengqiao(argv)


def main() -> None:
    if sys.argv[1:2] == ["--serve-nodelay"]:
        serve_nodelay(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--cases", type=int, default=100_000, help="service-layer creates (default 100,000)")
    parser.add_argument("--bulk-cases", type=int, default=None,
                        help="creates through case_import (bulk intake; default: --cases; 0: skip)")
    parser.add_argument("--chunk", type=int, default=500, help="reports per case_import call (default 500)")
    parser.add_argument("--max-seconds", type=float, default=150,
                        help="the service-layer phase stops after this long (0: no limit)")
    parser.add_argument("--http-cases", type=int, default=None, help="HTTP creates at most (default: --cases)")
    parser.add_argument("--http-seconds", type=float, default=60, help="HTTP phase stops after this long")
    parser.add_argument("--http-batch", type=int, default=0,
                        help="rows a request: POST /api/v1/cases/batch instead of one case a POST /api/v1/cases")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--runserver", action="store_true",
                        help="serve with Django's development server instead of `fengqiao serve` (gunicorn)")
    parser.add_argument("--nodelay", action="store_true",
                        help="serve with TCP_NODELAY on the server's connections (as gunicorn does)")
    parser.add_argument("--profile", type=int, default=None,
                        help="case_report calls to profile (default: 2,000 on PostgreSQL when it misses the target)")
    parser.add_argument("--ablation", type=int, default=0,
                        help="case_report calls to run with notifications muted / without the duplicate search")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and the database")
    parser.add_argument("--with-history", action="store_true", help="build the demo's year of history too")
    parser.add_argument("--quick", action="store_true", help="2,000 cases, 20 s of HTTP")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.cases = min(args.cases, 2000)
        args.http_seconds = min(args.http_seconds, 20)
    if args.http_cases is None:
        args.http_cases = args.cases
    if args.bulk_cases is None:
        args.bulk_cases = args.cases
    if args.child:
        child(args)
        return

    print(f"Case intake benchmark on {_setup.machine()}")
    databases = list(_setup.DATABASES) if args.database == "both" else [args.database]
    argv = ["--cases", str(args.cases), "--http-cases", str(args.http_cases), "--http-seconds", str(args.http_seconds),
            "--bulk-cases", str(args.bulk_cases), "--chunk", str(args.chunk), "--clients", str(args.clients), "--http-batch", str(args.http_batch), "--max-seconds", str(args.max_seconds), "--ablation", str(args.ablation)] + (["--with-history"] if args.with_history else []) + (["--keep"] if args.keep else []) + (["--nodelay"] if args.nodelay else []) + (["--runserver"] if args.runserver else [])
    results = []
    for database in databases:
        extra = ["--profile", str(args.profile)] if args.profile is not None else []
        found = _setup.run_children(Path(__file__), [database], argv + extra)
        results += found
    summary(results)


def summary(results: list[dict]) -> None:
    if not results:
        return
    print("\n=== summary ===")
    rows = []
    for r in results:
        s, raw, h = r["service"], r["raw"], r.get("http")
        rows.append([r["database"], f"{s['rate']:,.0f}", f"{s['p50_ms']:.2f}/{s['p95_ms']:.2f}",
                     f"{r['queries']['queries_per_call']:.1f}", f"{raw['rate']:,.0f}", f"1/{raw['rate'] / s['rate']:,.0f}",
                     f"{h['rate']:,.0f}" if h else "-", f"{h['p50_ms']:.1f}/{h['p95_ms']:.1f}" if h else "-",
                     ("ok" if h["consistent"] else "FAIL") if h else "-"])
    print(_setup.table(rows, ["database", "service/s", "p50/p95 ms", "queries", "raw rows/s", "service:raw",
                              "HTTP/s", "HTTP p50/p95 ms", "HTTP no loss/dup"]))


if __name__ == "__main__":
    main()
