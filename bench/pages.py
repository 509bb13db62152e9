"""Server time of the pages staff open all day, with 10,000 and with 1,000,000 cases in PostgreSQL.

    .venv/bin/python bench/pages.py [--sizes 10000 1000000] [--requests 200] [--warmup 20]
                                    [--growth proportional|history] [--proposed-indexes] [--quick]

Figures, commands and the analysis of what misses the targets: docs/benchmarks-pages.md.

Pages (each GET through Django's test `Client`, in this process: the whole middleware stack, the
view, the templates and the database, without network; `force_login` for the user):

- inbox     GET /cases/               the department inbox of `handler-fq-enforcement`
- case      GET /cases/<number>/      the case page, for the same handler, over 50 open cases its
                                      department leads and works on (dispatched, in progress,
                                      handled; chosen at the first size and kept)
- map data  GET /map/data.json        the grid map's data for `operator` (township scope)

Set-up, in a database of its own (`bench_pages` on 127.0.0.1:5432, user postgres, dropped and
created again; FENGQIAO_VAR_DIR a private temporary directory; debug off, static files collected
into it as in production): migrate, `build_demo()` without its year of generated history (made
through the services, it takes minutes), then cases are added with COPY (not through the services:
the point is the pages' cost) until the table holds each size in turn; the case table's triggers
write their open-count changes, which are then folded as the worker's periodic job does. Rows are spread over the
demo's grids, leaf categories, departments, channels and urgencies, reported at an even pace over
three years and inserted oldest first, as a live table fills in. A case reported `a` days ago is
still open with probability exp(-a / 30 days) (about 2.7 % of all cases are open, most of them
from the last weeks; the others are rated, closed, rejected or merged, with consistent
timestamps), and the measured department leads 35 % of the cases that have a department, so
about 0.95 % of all cases are open in its inbox. Each open case of that department gets its
events (report, accept, dispatch, start...) so the timeline is not empty, and 3 % of the
dispatched cases of any age get an assisting department (the measured department assists a
share of them). The hash chain of these events is not verified here.

`--growth proportional` (default): every size has the same mix, so the inbox and the open cases
grow with the table (1,000,000 cases: ~9,500 open in the inbox, ~27,000 open in the township).
`--growth history`: the rows added after the first size are all finished cases (a longer
history, the same open work), which isolates what "must not scan all cases" means.

After each size: VACUUM ANALYZE, then for each page a warm-up of --warmup requests and --requests
timed requests: p50 and p95 in ms. One more request of each page is run with the statements
recorded (CaptureQueriesContext) and each statement timed; the slowest statement is the page's
main query. At the end: the table of figures, the ratio p95(largest)/p95(smallest) per page
(target <= 2), the targets (p95 < 150 ms at the largest size) and EXPLAIN (ANALYZE, BUFFERS) of
the main query of each page at the largest size, the slowest page first.

`--proposed-indexes`: after that, the partial indexes proposed in docs/benchmarks-pages.md are
created in the benchmark's database (PROPOSED_INDEXES below; nothing in the models changes) and
the pages are measured again at the largest size, side by side with the figures as the code is.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "bench_pages"
PG_DSN = os.environ.get("BENCH_PG_DSN", "host=127.0.0.1 port=5432 user=postgres")
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
HOST = "127.0.0.1"

HANDLER = "handler-fq-enforcement"
DEPARTMENT = "fq-enforcement"
OPERATOR = "operator"
CASE_SAMPLE = 50
TARGET_P95_MS = 150.0
TARGET_RATIO = 2.0

HISTORY_DAYS = 3 * 365
CST = timezone(timedelta(hours=8))  # the case numbers' day is the local (Asia/Shanghai) day
# a case reported `age` days ago is still open with probability exp(-age / OPEN_DAYS)
OPEN_DAYS = 30.0
NEW_MIX = {"reported": 30, "accepted": 20, "dispatched": 40, "in_progress": 10}  # open, less than 12 hours old
OPEN_MIX = {"dispatched": 20, "in_progress": 50, "handled": 18, "suspended": 6, "parked": 6}  # open, older
FINISHED_MIX = {"rated": 66, "closed": 22, "rejected": 4, "merged": 2}
MEASURED_SHARE = 0.35  # of the cases that have a lead department
ASSIST_SHARE = 0.03  # of the dispatched cases (any age)
CHANNELS = {"grid_worker": 45, "hotline": 25, "resident": 20, "api": 5, "sensor": 5}
URGENCIES = {"normal": 90, "urgent": 8, "critical": 2}
RATINGS = {5: 60, 4: 25, 3: 8, 2: 4, 1: 3}
DESCRIPTIONS = ["路边垃圾堆放多日未清运", "电线杆上贴满小广告", "夜间施工噪声扰民", "路面塌陷有坑", "井盖缺失，行人有危险",
                "路灯不亮已有一周", "餐馆油烟直排扰民", "沿街违规设置广告牌", "渣土车沿路遗撒", "村道积水严重"]
PAGES = ("inbox", "case", "map data")


# -- set-up -----------------------------------------------------------------------------------------
def fresh_database() -> str:
    import psycopg

    with psycopg.connect(f"{PG_DSN} dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return f"{PG_URL}/{DATABASE}"


def setup_django(workdir: str) -> None:
    url = fresh_database()
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "fengqiao.settings",
        "FENGQIAO_DATABASE_URL": url,
        "FENGQIAO_VAR_DIR": workdir,
        "FENGQIAO_DEBUG": "0",
        "FENGQIAO_SSL_REDIRECT": "0",
        "FENGQIAO_SECURE_COOKIES": "0",
        "FENGQIAO_HSTS_SECONDS": "0",
        "FENGQIAO_ALLOWED_HOSTS": HOST,
        "FENGQIAO_LOG_LEVEL": "WARNING",
        "FENGQIAO_DEMO_PASSWORD": "bench-demo-password",
    })
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # debug off serves hashed static names from the manifest, as in production
    call_command("collectstatic", interactive=False, verbosity=0)


def build_township() -> None:
    import fengqiao.demo.build as demo_build

    demo_build.build_history = lambda **kwargs: 0
    demo_build.build_demo()


def server_label() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version'), current_setting('shared_buffers'), "
                       "current_setting('work_mem'), current_setting('lc_collate'), "
                       "current_setting('max_parallel_workers_per_gather')")
        version, buffers, work_mem, collate, workers = cursor.fetchone()
    return (f"PostgreSQL {version} (shared_buffers {buffers}, work_mem {work_mem}, lc_collate {collate}, "
            f"parallel workers per gather {workers})")


def machine() -> str:
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu or platform.machine()}), Python {platform.python_version()}"


# -- rows ---------------------------------------------------------------------------------------------
class Weighted:
    def __init__(self, weights: dict):
        self.values = list(weights)
        self.cumulative = list(itertools.accumulate(weights.values()))

    def pick(self, rng: random.Random):
        return self.values[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


def event_steps(state: str) -> list[tuple[str, str, str]]:
    """(action, from, to) of the events an open case in `state` has had."""
    steps = [("report", "", "reported")]
    if state == "reported":
        return steps
    steps.append(("accept", "reported", "accepted"))
    if state == "accepted":
        return steps
    steps.append(("dispatch", "accepted", "dispatched"))
    if state == "dispatched":
        return steps
    steps.append(("start", "dispatched", "in_progress"))
    if state == "handled":
        steps.append(("report_back", "in_progress", "handled"))
    elif state == "suspended":
        steps.append(("suspend", "in_progress", "suspended"))
    elif state == "parked":
        steps.append(("park", "in_progress", "parked"))
    return steps


class CaseRows:
    """Case rows as COPY values, built from one prototype case and the demo's references."""

    def __init__(self, now: datetime, seed: int = 20260):
        from django.db import connection

        from fengqiao.cases.models import Case, Category
        from fengqiao.geo.models import Grid, Region
        from fengqiao.org.models import Department

        self.now = now
        self.rng = random.Random(seed)
        self.fields = [f for f in Case._meta.concrete_fields if not f.primary_key]
        self.columns = [f.column for f in self.fields]
        self.at = {f.attname: i for i, f in enumerate(self.fields)}
        leaves = list(Category.objects.filter(is_active=True, children__isnull=True)
                      .values_list("pk", "platform_id", "platform__code"))
        self.categories = [(pk, platform_id) for pk, platform_id, _code in leaves]
        self.enforcement_categories = [(pk, platform_id) for pk, platform_id, code in leaves
                                       if code == "enforcement"] or self.categories
        self.grids = []
        for grid in Grid.objects.filter(parent__isnull=True).order_by("code"):
            xs = [p[0] for ring in _rings(grid.geometry) for p in ring]
            ys = [p[1] for ring in _rings(grid.geometry) for p in ring]
            self.grids.append((grid.pk, grid.region_id, grid.code, min(xs), max(xs), min(ys), max(ys)))
        self.township = Region.objects.get(level="township").code
        departments = {d.code: d for d in Department.objects.filter(is_active=True).select_related("region")}
        self.measured = departments[DEPARTMENT].pk
        self.department_ids = {code: d.pk for code, d in departments.items()}
        self.others = [(d.pk, d.region.level) for code, d in sorted(departments.items())
                       if code not in (DEPARTMENT, "fq-command")]
        self.new_mix, self.open_mix = Weighted(NEW_MIX), Weighted(OPEN_MIX)
        self.finished_mix = Weighted(FINISHED_MIX)
        self.channels, self.urgencies, self.ratings = Weighted(CHANNELS), Weighted(URGENCIES), Weighted(RATINGS)
        self.per_day: Counter = Counter()
        category_id, platform_id = self.categories[0]
        grid_id, region_id, grid_code = self.grids[0][:3]
        prototype = Case(number="", channel="hotline", category_id=category_id, platform_id=platform_id,
                         grid_id=grid_id, region_id=region_id, area_code=grid_code, description=DESCRIPTIONS[0],
                         state="reported", level="township", routing_reason="", created_at=now, updated_at=now)
        self.base = [f.get_db_prep_save(getattr(prototype, f.attname), connection) for f in self.fields]

    def _number(self, created: datetime) -> str:
        day = created.astimezone(CST).strftime("%Y%m%d")
        self.per_day[day] += 1
        return f"{self.township}-{day}-B{self.per_day[day]:04d}"  # B: never a number the demo gives

    def row(self, created: datetime, *, finished_only: bool) -> tuple:
        rng, now = self.rng, self.now
        age_days = (now - created).total_seconds() / 86400
        is_open = not finished_only and rng.random() < math.exp(-age_days / OPEN_DAYS)
        if not is_open:
            state = self.finished_mix.pick(rng)
        else:
            state = (self.new_mix if age_days < 0.5 else self.open_mix).pick(rng)
        has_department = state not in ("reported", "accepted", "rejected", "merged")
        measured = has_department and rng.random() < MEASURED_SHARE
        if measured:
            lead, level = self.measured, "township"
            category_id, platform_id = rng.choice(self.enforcement_categories)
        elif has_department:
            lead, level = rng.choice(self.others)
            category_id, platform_id = rng.choice(self.categories)
        else:
            lead, level = None, "township"
            category_id, platform_id = rng.choice(self.categories)
        grid_id, region_id, grid_code, west, east, south, north = rng.choice(self.grids)

        def later(t: datetime, low_hours: float, high_hours: float) -> datetime:
            return min(t + timedelta(hours=rng.uniform(low_hours, high_hours)), now - timedelta(minutes=1))

        v = list(self.base)
        at = self.at
        accepted = dispatched = started = handled = closed = rated = suspended = None
        due = warn = next_due = overdue_since = None
        warning, rating, on_time, state_before = "", None, None, ""
        if is_open:
            started = created
            if state != "reported":
                accepted = started = later(created, 0.1, 1)
            if has_department:
                dispatched = started = later(accepted, 0.2, 4)
                due = dispatched + timedelta(days=rng.choice((3, 5, 7, 10, 15)))
                warn = due - timedelta(days=1)
            else:
                due = started + timedelta(hours=rng.choice((2, 4, 8)))
                warn = due - timedelta(hours=1)
            if state in ("in_progress", "handled", "suspended", "parked"):
                started = later(dispatched, 0.5, 24)
            if state == "handled":
                handled = started = later(started, 4, 120)
                due, warn = handled + timedelta(days=2), handled + timedelta(days=1)
            if state in ("suspended", "parked"):
                suspended = started = later(started, 2, 72)
                due = warn = None
                state_before = "in_progress"
            if due is not None:
                if due <= now:
                    warning, overdue_since, next_due = "red", due, due + timedelta(days=1)
                elif warn <= now:
                    warning, next_due = "yellow", due
                else:
                    next_due = warn
            updated = started
        else:
            if state in ("rejected", "merged"):
                closed = later(created, 0.2, 6)
            else:
                accepted = later(created, 0.1, 1)
                dispatched = later(accepted, 0.2, 4)
                handled = later(dispatched, 4, 240)
                closed = later(handled, 2, 72)
                on_time = rng.random() < 0.92
                if state == "rated":
                    rated = later(closed, 1, 48)
                    rating = self.ratings.pick(rng)
            started = closed
            updated = rated or closed
        v[at["number"]] = self._number(created)
        v[at["channel"]] = self.channels.pick(rng)
        v[at["category_id"]], v[at["platform_id"]] = category_id, platform_id
        v[at["grid_id"]], v[at["region_id"]], v[at["area_code"]] = grid_id, region_id, grid_code
        v[at["lon"]] = round(rng.uniform(west, east), 6)
        v[at["lat"]] = round(rng.uniform(south, north), 6)
        v[at["description"]] = rng.choice(DESCRIPTIONS)
        v[at["urgency"]] = self.urgencies.pick(rng)
        v[at["state"]], v[at["state_before"]], v[at["level"]] = state, state_before, level
        v[at["lead_department_id"]] = lead
        v[at["routing_reason"]] = "规则：事项分类与区域" if lead else ""
        v[at["supervised"]] = is_open and rng.random() < 0.03
        v[at["closed_on_time"]], v[at["rating"]] = on_time, rating
        v[at["warning"]], v[at["overdue_since"]] = warning, overdue_since
        v[at["due_at"]], v[at["warn_at"]], v[at["next_due_at"]] = due, warn, next_due
        v[at["suspended_at"]] = suspended
        for name, value in (("created_at", created), ("accepted_at", accepted), ("dispatched_at", dispatched),
                            ("stage_started_at", started), ("handled_at", handled), ("closed_at", closed),
                            ("rated_at", rated), ("updated_at", updated)):
            v[at[name]] = value
        if measured and is_open:
            v[at["last_event_seq"]] = len(event_steps(state))
        return tuple(v)


def _rings(geometry: dict | None) -> list:
    if not geometry:
        return []
    if geometry.get("type") == "Polygon":
        return [geometry["coordinates"][0]]
    if geometry.get("type") == "MultiPolygon":
        return [polygon[0] for polygon in geometry["coordinates"]]
    return []


def add_cases(rows: CaseRows, count: int, *, finished_only: bool) -> None:
    """COPY `count` case rows, then the events of the measured department's new open cases and the
    assisting departments of the new dispatched cases."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM cases_case")
        after = cursor.fetchone()[0]
        columns = ", ".join(f'"{c}"' for c in rows.columns)
        # reported at an even pace over the history, oldest first (the order a live table fills in)
        start, span = rows.now - timedelta(days=HISTORY_DAYS), timedelta(days=HISTORY_DAYS)
        with cursor.cursor.copy(f"COPY cases_case ({columns}) FROM STDIN") as copy:
            for i in range(count):
                created = start + span * ((i + rows.rng.random()) / count)
                copy.write_row(rows.row(created, finished_only=finished_only))
        add_events(cursor, rows, after)
        d = rows.department_ids
        cursor.execute("SELECT setseed(%s)", [(after % 1000) / 1000])
        cursor.execute(
            """
            INSERT INTO cases_caseassist (case_id, department_id, requested_at, reported_at, report)
            SELECT id,
                   CASE WHEN lead_department_id = %(measured)s THEN %(urban)s
                        WHEN lead_department_id <> %(police)s AND random() < 0.3 THEN %(measured)s
                        WHEN lead_department_id <> %(police)s THEN %(police)s
                        ELSE %(urban)s END,
                   dispatched_at + interval '1 hour',
                   CASE WHEN state IN ('closed', 'rated', 'handled') THEN dispatched_at + interval '1 day' END,
                   CASE WHEN state IN ('closed', 'rated', 'handled') THEN '已配合处置' ELSE '' END
            FROM cases_case
            WHERE id > %(after)s AND dispatched_at IS NOT NULL AND lead_department_id IS NOT NULL
              AND lead_department_id NOT IN (%(urban)s) AND random() < %(share)s
            """,
            {"measured": rows.measured, "urban": d["fq-urban"], "police": d["fq-police"], "after": after,
             "share": ASSIST_SHARE},
        )


def add_events(cursor, rows: CaseRows, after: int) -> None:
    from fengqiao.cases.states import OPEN_STATES

    cursor.execute(
        "SELECT id, state, created_at, accepted_at, dispatched_at, stage_started_at, handled_at, suspended_at "
        "FROM cases_case WHERE id > %s AND lead_department_id = %s AND state = ANY(%s) ORDER BY id",
        [after, rows.measured, sorted(OPEN_STATES)])
    cases = cursor.fetchall()
    rng = rows.rng
    columns = ("case_id", "seq", "action", "actor_id", "actor_label", "from_state", "to_state", "level", "reason",
               "payload", "is_public", "created_at", "prev_hash", "hash")
    with cursor.cursor.copy(f"COPY cases_caseevent ({', '.join(columns)}) FROM STDIN") as copy:
        for case_id, state, created, accepted, dispatched, started, handled, suspended in cases:
            moments = {"report": created, "accept": accepted, "dispatch": dispatched, "start": started,
                       "report_back": handled, "suspend": suspended, "park": suspended}
            previous = ""
            for seq, (action, before, after_state) in enumerate(event_steps(state), start=1):
                digest = f"{rng.getrandbits(256):064x}"
                moment = moments[action] or created
                copy.write_row((case_id, seq, action, None, "承办人" if seq > 2 else "指挥室值班员", before,
                                after_state, "township", "", "{}", True, moment, previous, digest))
                previous = digest


def vacuum_analyse() -> float:
    from django.db import connection

    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE cases_case, cases_caseevent, cases_caseassist, cases_opencount, "
                       "cases_opencountchange")
    return time.perf_counter() - t0


# -- measurements ---------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


class Page:
    def __init__(self, name: str, client, urls: list[str], check):
        self.name, self.client, self.urls, self.check = name, client, urls, check

    def get(self, i: int):
        response = self.client.get(self.urls[i % len(self.urls)])
        if response.status_code != 200:
            raise RuntimeError(f"{self.name}: GET {self.urls[i % len(self.urls)]} answered {response.status_code}")
        return response


def time_page(page: Page, requests: int, warmup: int) -> dict:
    for i in range(warmup):
        page.get(i)
    seconds, cpu = [], []
    for i in range(requests):
        c0, t0 = time.process_time(), time.perf_counter()
        page.get(i)
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"p50_ms": 1000 * percentile(seconds, 50), "p95_ms": 1000 * percentile(seconds, 95),
            "max_ms": 1000 * max(seconds), "mean_ms": 1000 * statistics.fmean(seconds),
            "cpu_p50_ms": 1000 * percentile(cpu, 50)}


def record_statements(page: Page, repeat: int = 5) -> dict:
    """The statements of one request (CaptureQueriesContext), each timed: the median of `repeat`
    requests of the same URL; the slowest statement is the page's main query."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    runs: list[list[tuple[float, str, object]]] = []
    counts = []
    for _ in range(repeat):
        timed: list[tuple[float, str, object]] = []

        def wrapper(execute, sql, params, many, context, timed=timed):
            t0 = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                timed.append((time.perf_counter() - t0, sql, params))

        with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(wrapper):
            response = page.get(0)
        counts.append(len(captured))
        runs.append(timed)
    shortest = min(len(r) for r in runs)
    statements = []
    for i in range(shortest):
        sql, params = runs[0][i][1], runs[0][i][2]
        statements.append({"ms": 1000 * statistics.median(r[i][0] for r in runs), "sql": sql, "params": params})
    main = max(statements, key=lambda s: s["ms"]) if statements else None
    return {"queries": counts[0], "queries_seen": sorted(set(counts)), "statements": statements, "main": main,
            "check": page.check(response)}


def explain(sql: str, params) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def full_sql(sql: str, params) -> str:
    from django.db import connection

    try:
        return connection.ops.compose_sql(sql, params)
    except Exception:  # noqa: BLE001 - only for display
        return f"{sql}  -- params {params!r}"


def short(sql: str, width: int = 110) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def case_sample(rows: CaseRows) -> list[str]:
    """Open cases the measured department is working on (dispatched, in progress, handled), chosen
    once at the first size and kept, so that every size shows the same case pages."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT number FROM cases_case WHERE lead_department_id = %s "
                       "AND state IN ('dispatched', 'in_progress', 'handled') AND last_event_seq > 0 "
                       "ORDER BY state = 'in_progress' DESC, md5(number) LIMIT %s", [rows.measured, CASE_SAMPLE])
        numbers = [r[0] for r in cursor.fetchall()]
    if not numbers:
        raise RuntimeError("no open case of the measured department")
    return numbers


def pages(numbers: list[str]) -> list[Page]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from fengqiao.cases.selectors import case_inbox

    User = get_user_model()
    handler, operator = User.objects.get(username=HANDLER), User.objects.get(username=OPERATOR)
    as_handler = Client(HTTP_HOST=HOST)
    as_handler.force_login(handler)
    as_operator = Client(HTTP_HOST=HOST)
    as_operator.force_login(operator)
    in_inbox = case_inbox(actor=User.objects.get(pk=handler.pk)).count()

    def inbox_check(response) -> str:
        return f"{in_inbox:,} open cases in the inbox, page 1: {len(response.content):,} bytes"

    def case_check(response) -> str:
        return f"{len(response.content):,} bytes (the first of {len(numbers)} cases in rotation)"

    def map_check(response) -> str:
        data = response.json()
        return (f"{data['totals']['open']:,} open cases in {len(data['areas'])} areas of "
                f"{(data.get('area') or {}).get('code', '?')}; {len(data['pins'])} pins")

    return [
        Page("inbox", as_handler, ["/cases/"], inbox_check),
        Page("case", as_handler, [f"/cases/{n}/" for n in numbers], case_check),
        Page("map data", as_operator, ["/map/data.json"], map_check),
    ]


def table_counts() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT (SELECT count(*) FROM cases_case), (SELECT count(*) FROM cases_case "
                       "WHERE state NOT IN ('rejected', 'closed', 'rated', 'merged')), "
                       "(SELECT count(*) FROM cases_caseevent), (SELECT count(*) FROM cases_caseassist), "
                       "pg_total_relation_size('cases_case')")
        cases, open_cases, events, assists, size = cursor.fetchone()
    return {"cases": cases, "open": open_cases, "events": events, "assists": assists, "bytes": size}


# -- output ------------------------------------------------------------------------------------------------
def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
              for r in rows]
    return "\n".join(lines)


def indent(text: str, by: str = "  ") -> str:
    return "\n".join(by + line for line in text.splitlines())


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1000 == 0:
        return f"{n // 1000}k"
    return f"{n:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000],
                        help="cases in the table, ascending (default 10,000 and 1,000,000)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page and size (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="requests before timing (default 20)")
    parser.add_argument("--growth", choices=["proportional", "history"], default="proportional",
                        help="the mix of the rows added after the first size (see above)")
    parser.add_argument("--quick", action="store_true", help="sizes 10,000 and 100,000")
    parser.add_argument("--proposed-indexes", action="store_true",
                        help="at the largest size, also measure the pages with the indexes the report proposes")
    args = parser.parse_args()
    if args.quick:
        args.sizes = [10_000, 100_000]
    args.sizes = sorted(set(args.sizes))

    workdir = tempfile.mkdtemp(prefix="bench-pages-")
    t0 = time.perf_counter()
    setup_django(workdir)
    build_township()
    print(f"Page server time on {machine()}")
    print(f"  {server_label()}")
    print(f"  database {DATABASE}, var dir {workdir}; migrate + collectstatic + demo {time.perf_counter() - t0:.1f} s")
    print(f"  growth: {args.growth}; {args.requests} timed requests per page after {args.warmup} of warm-up; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)

    from fengqiao.cases.counts import fold_changes
    from fengqiao.core import clock

    rows = CaseRows(clock.now())
    results: dict[int, dict] = {}
    have = 0
    numbers: list[str] = []
    for size in args.sizes:
        t0 = time.perf_counter()
        add_cases(rows, size - have, finished_only=args.growth == "history" and have > 0)
        inserted = time.perf_counter() - t0
        added, have = size - have, size
        # the worker folds the open-count changes the case table's triggers wrote (once a minute)
        t0 = time.perf_counter()
        folded = fold_changes()
        print(f"  folded {folded:,} open-count changes in {time.perf_counter() - t0:.1f} s", flush=True)
        analysed = vacuum_analyse()
        counts = table_counts()
        print(f"\n== {size:,} cases: added {added:,} in {inserted:.1f} s ({added / inserted:,.0f} rows/s), "
              f"VACUUM ANALYZE {analysed:.1f} s; {counts['open']:,} open, {counts['events']:,} events, "
              f"{counts['assists']:,} assisting departments; cases table {counts['bytes'] / 2**20:,.0f} MB", flush=True)
        numbers = numbers or case_sample(rows)
        results[size] = {"pages": measure_pages(numbers, args), "counts": counts, "load": os.getloadavg()[0]}
    explain_main_queries(results[args.sizes[-1]]["pages"])
    proposed = None
    if args.proposed_indexes:
        t0 = time.perf_counter()
        create_proposed_indexes()
        print(f"\n== {args.sizes[-1]:,} cases with the proposed indexes (created and analysed in "
              f"{time.perf_counter() - t0:.1f} s): {', '.join(PROPOSED_INDEXES)}", flush=True)
        proposed = {"pages": measure_pages(numbers, args), "load": os.getloadavg()[0]}
        explain_main_queries(proposed["pages"])
    report(args, results, proposed)


def explain_main_queries(by_page: dict[str, dict]) -> None:
    """EXPLAIN ANALYZE of each page's main query, now (before anything changes the table)."""
    for measured in by_page.values():
        main_query = measured["main"]
        measured["plan"] = explain(main_query["sql"], main_query["params"])


def measure_pages(numbers: list[str], args) -> dict[str, dict]:
    by_page = {}
    for page in pages(numbers):
        timing = time_page(page, args.requests, args.warmup)
        statements = record_statements(page)
        sql_ms = sum(x["ms"] for x in statements["statements"])
        by_page[page.name] = {**timing, **statements, "sql_ms": sql_ms}
        print(f"  {page.name:9} p50 {timing['p50_ms']:7.1f} ms  p95 {timing['p95_ms']:7.1f} ms  "
              f"max {timing['max_ms']:7.1f} ms  (Python CPU p50 {timing['cpu_p50_ms']:.1f} ms; "
              f"{statements['queries']} queries, {sql_ms:.1f} ms in SQL, main query {statements['main']['ms']:.1f} ms)"
              f"\n            {statements['check']}", flush=True)
    return by_page


# -- what the report proposes, measured on demand (--proposed-indexes) -------------------------------------
def _open_list() -> str:
    from fengqiao.cases.states import OPEN_STATES

    return "(" + ", ".join(f"'{s}'" for s in sorted(OPEN_STATES)) + ")"


PROPOSED_INDEXES = {
    # inbox: the department's open cases in deadline order (COUNT and ORDER BY due_at, id)
    "bench_open_dept_due": "ON cases_case (lead_department_id, due_at, id) WHERE state IN {open}",
    # map pins: the newest open cases
    "bench_open_created": "ON cases_case (created_at, id) WHERE state IN {open}",
    # map counts: open cases under an area-code prefix, counted from the index alone
    "bench_open_area": "ON cases_case (area_code varchar_pattern_ops) INCLUDE (id, warning, supervised) "
                       "WHERE state IN {open}",
}


def create_proposed_indexes() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for name, definition in PROPOSED_INDEXES.items():
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} " + definition.format(open=_open_list()))
        cursor.execute("VACUUM ANALYZE cases_case")


def report(args, results: dict[int, dict], proposed: dict | None) -> None:
    small, large = args.sizes[0], args.sizes[-1]
    s, lg = size_label(small), size_label(large)
    header = ["page", "queries", f"p50 {s}", f"p95 {s}", f"p50 {lg}", f"p95 {lg}", f"p95 {lg}/{s}",
              f"p50 {lg}/{s}", f"SQL {s}", f"SQL {lg}", f"p95 < {TARGET_P95_MS:.0f} ms", f"ratio <= {TARGET_RATIO:g}"]
    lines = []
    for name in PAGES:
        a, b = results[small]["pages"][name], results[large]["pages"][name]
        ratio = b["p95_ms"] / a["p95_ms"]
        queries = f"{a['queries']}" if a["queries"] == b["queries"] else f"{a['queries']} / {b['queries']}"
        lines.append([name, queries, f"{a['p50_ms']:.1f}", f"{a['p95_ms']:.1f}", f"{b['p50_ms']:.1f}",
                      f"{b['p95_ms']:.1f}", f"{ratio:.2f}", f"{b['p50_ms'] / a['p50_ms']:.2f}", f"{a['sql_ms']:.1f}",
                      f"{b['sql_ms']:.1f}", "meets" if b["p95_ms"] < TARGET_P95_MS else "MISSES",
                      "meets" if ratio <= TARGET_RATIO else "MISSES"])
    print(f"\n=== server time, ms ({args.growth} growth; {args.requests} requests per page and size; "
          f"SQL: all statements of one request, median of 5) ===")
    print(table(lines, header))
    for size in args.sizes:
        c = results[size]["counts"]
        print(f"  {size:,} cases: {c['open']:,} open; {c['events']:,} events; load average {results[size]['load']:.1f}")
    if proposed:
        print(f"\n=== at {large:,} cases: as the code is, and with the proposed indexes "
              f"({', '.join(PROPOSED_INDEXES)}) ===")
        rows = []
        for name in PAGES:
            a, b, first = results[large]["pages"][name], proposed["pages"][name], results[small]["pages"][name]
            rows.append([name, f"{a['p50_ms']:.1f}", f"{a['p95_ms']:.1f}", f"{b['p50_ms']:.1f}", f"{b['p95_ms']:.1f}",
                         f"{a['sql_ms']:.1f}", f"{b['sql_ms']:.1f}", f"{a['main']['ms']:.1f}", f"{b['main']['ms']:.1f}",
                         f"{b['p95_ms'] / first['p95_ms']:.2f}"])
        print(table(rows, ["page", "p50 as is", "p95 as is", "p50 indexed", "p95 indexed", "SQL as is",
                           "SQL indexed", "main query as is", "main query indexed", f"p95 indexed {lg}/{s}"]))

    print("\n=== the three slowest statements of each page (median of 5 requests), ms ===")
    stages = [(size_label(size), results[size]["pages"]) for size in (small, large)]
    if proposed:
        stages.append((f"{lg} indexed", proposed["pages"]))
    for name in PAGES:
        for label, by_page in stages:
            statements = sorted(by_page[name]["statements"], key=lambda x: -x["ms"])[:3]
            print(f"  {name} at {label}: all statements {by_page[name]['sql_ms']:.1f} ms")
            for x in statements:
                print(f"    {x['ms']:7.2f}  {short(x['sql'])}")

    order = sorted(PAGES, key=lambda n: -results[large]["pages"][n]["p95_ms"])
    print(f"\n=== main query of each page at {large:,} cases, EXPLAIN (ANALYZE, BUFFERS); slowest page first ===")
    for name in order:
        measured = results[large]["pages"][name]
        print(f"\n--- {name} (p95 {measured['p95_ms']:.1f} ms): {measured['main']['ms']:.1f} ms in the page ---")
        print(indent(full_sql(measured["main"]["sql"], measured["main"]["params"]), "  "))
        print(indent(measured["plan"], "    "))
    if proposed:
        print(f"\n=== with the proposed indexes: main query of each page at {large:,} cases ===")
        for name in order:
            measured = proposed["pages"][name]
            print(f"\n--- {name} (p95 {measured['p95_ms']:.1f} ms): {measured['main']['ms']:.1f} ms in the page: "
                  f"{short(measured['main']['sql'], 90)} ---")
            print(indent(measured["plan"], "    "))


if __name__ == "__main__":
    main()
