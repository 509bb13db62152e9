"""The deadline sweep: its cost must grow with what is due, not with the number of open cases.

    .venv/bin/python bench/sweep.py [--database sqlite|postgres|both] [--sizes 100000 1000000]
                                    [--due 1000] [--repeat 3] [--quick]

For each database, in a fresh database of its own (SQLite in a private temporary directory;
PostgreSQL database `bench_sweep` on 127.0.0.1, dropped and created again), with the demo
township built (`build_demo()` without its generated history):

1. open dispatched cases are bulk-inserted (PostgreSQL: COPY; SQLite: executemany in batches of
   50,000 rows in one transaction; not through the services: the point is the sweep's cost) until
   the table holds the first size, with valid categories, grids, villages and lead departments,
   unique numbers and `next_due_at` in the future (1 hour to 60 days ahead); `--due` of them
   (default 1,000) are due now: 60% reach their yellow warning (`warn_at` passed), 30% their
   deadline (`due_at` passed) and 10% have been overdue long enough to be escalated;
2. the statistics are refreshed (VACUUM ANALYZE / ANALYZE) and, --repeat times: the due cases are
   put back as they were (deleted with their events and messages and inserted again), then
   - the query that finds what is due (the sweep's own: `next_due_at <= now` on the partial index,
     ordered, limit 1,000) is timed (median of 5),
   - `sweep_deadlines(limit=1000)` is timed: the first run does the work (batches of 500 due
     cases, a transaction each),
   - a second run, with nothing due, is timed (median of 5),
   - the worker's next step, `fan_out_notices()`, which turns the sweep's pending notices into
     outbox rows for their recipients, is timed, with the rows it wrote;
   the medians over the repetitions are reported, with the statements per swept case and the
   query plan;
3. rows are added up to the next size and step 2 is repeated.

Ratios: each size against the first (target <= 1.5), and the sweep against its own find query in
the same run. Target (issue): each sweep < 200 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _setup  # noqa: E402

TARGET_MS = 200.0
TARGET_RATIO = 1.5
SQLITE_BATCH = 50_000
DUE_PREFIX = "330681110-DUE-"
BULK_PREFIX = "330681110-OPEN-"


# -- rows ----------------------------------------------------------------------------------------
class Rows:
    """Case rows as database parameters, built from one prototype and the demo's references."""

    def __init__(self, now, seed: int = 11):
        from django.db import connection

        from fengqiao.cases.models import Case, Category
        from fengqiao.geo.models import Grid
        from fengqiao.org.models import Department

        self.now = now
        self.rng = random.Random(seed)
        self.connection = connection
        self.fields = [f for f in Case._meta.concrete_fields if not f.primary_key]
        self.columns = [f.column for f in self.fields]
        self.at = {f.attname: i for i, f in enumerate(self.fields)}
        self.categories = [(c.pk, c.platform_id) for c in Category.objects.filter(is_active=True, children__isnull=True)]
        self.grids = [(g.pk, g.region_id, g.code, g.region.code) for g in
                      Grid.objects.filter(parent__isnull=True).select_related("region")]
        self.departments = list(Department.objects.filter(is_active=True, region__level="township")
                                .values_list("pk", flat=True))
        category_id, platform_id = self.categories[0]
        grid_id, region_id, grid_code, _village = self.grids[0]
        prototype = Case(
            number="", channel="hotline", category_id=category_id, platform_id=platform_id, grid_id=grid_id,
            region_id=region_id, area_code=grid_code, lon=120.25, lat=29.65, description="路灯不亮已有一周",
            state="dispatched", level="township", lead_department_id=self.departments[0],
            routing_reason="bench", created_at=now, updated_at=now, stage_started_at=now, accepted_at=now,
            dispatched_at=now,
        )
        self.base = [f.get_db_prep_save(getattr(prototype, f.attname), connection) for f in self.fields]
        self.sqlite = connection.vendor == "sqlite"

    def _dt(self, value):
        if value is None or not self.sqlite:
            return value
        return self.connection.ops.adapt_datetimefield_value(value)

    def row(self, number: str, kind: str) -> tuple:
        """kind: open (due later), warn (warning due), overdue (deadline passed), escalate."""
        rng, now, at = self.rng, self.now, self.at
        category_id, platform_id = rng.choice(self.categories)
        grid_id, region_id, grid_code, _village = rng.choice(self.grids)
        started = now - timedelta(hours=rng.uniform(1, 240))
        warning, overdue_since = "", None
        if kind == "open":
            warn = now + timedelta(hours=rng.uniform(1, 60 * 24))
            due = warn + timedelta(hours=rng.uniform(2, 48))
            next_due = warn
        elif kind == "warn":
            warn = now - timedelta(minutes=rng.uniform(1, 120))
            due = now + timedelta(hours=rng.uniform(2, 48))
            next_due = warn
        elif kind == "overdue":
            warning = "yellow"
            warn = now - timedelta(hours=rng.uniform(10, 30))
            due = now - timedelta(minutes=rng.uniform(1, 300))
            next_due = due
        else:  # escalate: overdue for days, past the grace period
            warning = "red"
            warn = now - timedelta(days=6)
            due = now - timedelta(days=rng.uniform(3, 5))
            overdue_since = due
            next_due = due + timedelta(days=1)
        values = list(self.base)
        values[at["number"]] = number
        values[at["category_id"]], values[at["platform_id"]] = category_id, platform_id
        values[at["grid_id"]], values[at["region_id"]], values[at["area_code"]] = grid_id, region_id, grid_code
        values[at["lead_department_id"]] = rng.choice(self.departments)
        values[at["lon"]], values[at["lat"]] = round(120.2 + rng.random() / 10, 6), round(29.6 + rng.random() / 10, 6)
        for name, value in (("created_at", started - timedelta(hours=2)), ("accepted_at", started - timedelta(hours=1)),
                            ("dispatched_at", started), ("stage_started_at", started), ("updated_at", started),
                            ("warn_at", warn), ("due_at", due), ("next_due_at", next_due),
                            ("overdue_since", overdue_since)):
            values[at[name]] = self._dt(value)
        values[at["warning"]] = warning
        return tuple(values)


def due_kinds(n: int) -> list[str]:
    warn, overdue = round(0.6 * n), round(0.3 * n)
    return ["warn"] * warn + ["overdue"] * overdue + ["escalate"] * (n - warn - overdue)


def insert(rows: Rows, numbered_kinds) -> int:
    """Insert rows of (number, kind); PostgreSQL through COPY, SQLite through executemany."""
    from django.db import connection, transaction

    column_list = ", ".join(f'"{c}"' for c in rows.columns)
    count = 0
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY cases_case ({column_list}) FROM STDIN") as copy:
                for number, kind in numbered_kinds:
                    copy.write_row(rows.row(number, kind))
                    count += 1
        else:
            # a large page cache for this connection while loading (the default 2 MB makes a million
            # inserts into seven indexes wait on the disk)
            cursor.execute("PRAGMA cache_size = -1000000")
            sql = f'INSERT INTO cases_case ({column_list}) VALUES ({", ".join(["%s"] * len(rows.columns))})'  # noqa: S608
            batch = []
            for number, kind in numbered_kinds:
                batch.append(rows.row(number, kind))
                if len(batch) >= SQLITE_BATCH:
                    cursor.executemany(sql, batch)
                    count += len(batch)
                    batch = []
            if batch:
                cursor.executemany(sql, batch)
                count += len(batch)
            cursor.execute("PRAGMA cache_size = -2000")  # back to the default for what is measured
    return count


def reset_due(rows: Rows, due: int) -> None:
    """Put the due cases back as they were: delete them, their events, notices and messages; insert again."""
    from django.db import connection, transaction

    pattern = DUE_PREFIX + "%"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM notify_message WHERE case_number LIKE %s", [pattern])
        cursor.execute("DELETE FROM cases_pendingnotice WHERE case_id IN (SELECT id FROM cases_case WHERE number LIKE %s)",
                       [pattern])
        cursor.execute("DELETE FROM cases_caseevent WHERE case_id IN (SELECT id FROM cases_case WHERE number LIKE %s)",
                       [pattern])
        cursor.execute("DELETE FROM cases_case WHERE number LIKE %s", [pattern])
    rows.rng.seed(due)  # the same due cases every time
    insert(rows, ((f"{DUE_PREFIX}{i:06d}", kind) for i, kind in enumerate(due_kinds(due))))


# -- measurements -------------------------------------------------------------------------------
def find_due(limit: int = 1000) -> list[str]:
    """The sweep's own query (fengqiao.cases.services.sweep_deadlines)."""
    from fengqiao.cases.models import Case
    from fengqiao.core import clock

    return list(Case.objects.filter(next_due_at__lte=clock.now()).order_by("next_due_at")
                .values_list("number", flat=True)[:limit])


def plan() -> str:
    from fengqiao.cases.models import Case
    from fengqiao.core import clock

    qs = Case.objects.filter(next_due_at__lte=clock.now()).order_by("next_due_at").values_list("number", flat=True)[:1000]
    return qs.explain()


def median_time(function, times: int = 5) -> tuple[float, object]:
    seconds, result = [], None
    for _ in range(times):
        t0 = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - t0)
    return statistics.median(seconds), result


def measure(rows: Rows, due: int, repeat: int, url: str) -> dict:
    from django.db import connection

    from fengqiao.cases.notifications import fan_out_notices
    from fengqiao.cases.services import sweep_deadlines

    finds, sweeps, cpus, idles, reports, fan_outs, sent = [], [], [], [], [], [], []
    server: list[dict] = []
    backends: dict[str, float] = {}
    for _ in range(repeat):
        reset_due(rows, due)
        find_seconds, found = median_time(find_due)
        assert len(found) == due, f"expected {due} due cases, the query found {len(found)}"
        postgres = connection.vendor == "postgresql"
        if postgres:
            counters = _setup.ServerCounters()
            sampler = _setup.ActivitySampler(url, states=("active", "idle in transaction", "idle"))
            sampler.start()
        t0, c0 = time.perf_counter(), time.process_time()
        report = sweep_deadlines(limit=1000)
        sweeps.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        if postgres:
            sampler.stop.set()
            sampler.join()
            server.append(counters.delta())
            for what, share in sampler.summary():
                backends[what] = backends.get(what, 0.0) + share / repeat
        idle_seconds, idle = median_time(lambda: sweep_deadlines(limit=1000))
        assert idle.looked_at == 0, "a second sweep found work: the sweep is not idempotent"
        # the worker's next step: the sweep's notices to their recipients (outbox rows)
        messages_before = _message_count()
        t0 = time.perf_counter()
        notices = fan_out_notices()
        fan_outs.append(time.perf_counter() - t0)
        sent.append((notices, _message_count() - messages_before))
        finds.append(find_seconds)
        idles.append(idle_seconds)
        reports.append(report)
    # statements of one more sweep, counted (not timed)
    reset_due(rows, due)
    report, statements, _total = _setup.count_statements(lambda: sweep_deadlines(limit=1000))
    fan_out_notices()
    looked = max(report.looked_at, 1)
    last = reports[-1]
    return {
        "find_ms": 1000 * statistics.median(finds), "sweep_ms": 1000 * statistics.median(sweeps),
        "idle_ms": 1000 * statistics.median(idles), "sweep_runs_ms": [1000 * s for s in sweeps],
        "sweep_min_ms": 1000 * min(sweeps), "sweep_cpu_ms": 1000 * statistics.median(cpus),
        "fan_out_ms": 1000 * statistics.median(fan_outs), "notices": sent[-1][0], "messages": sent[-1][1],
        "looked_at": last.looked_at, "warned": last.warned, "overdue": last.overdue, "escalated": last.escalated,
        "statements_per_case": sum(statements.values()) / looked,
        "server": {k: statistics.median(d[k] for d in server) for k in server[0]} if server else {},
        "backends": sorted(backends.items(), key=lambda kv: -kv[1]),
        "statements": [(k, v / looked) for k, v in statements.most_common(25)],
    }


def _message_count() -> int:
    from fengqiao.notify.models import Message

    return Message.objects.count()


# -- one database --------------------------------------------------------------------------------
def child(args) -> None:
    database = args.database
    workdir = _setup.private_workdir(f"bench-sweep-{database}-")
    setup: dict = {}
    with _setup.stopwatch(setup, "migrate"):
        url, _env = _setup.setup_django(database, "bench_sweep", workdir)
    import fengqiao.demo.build as demo_build

    demo_build.build_history = lambda **kwargs: 0
    with _setup.stopwatch(setup, "demo"):
        _setup.build_township()
    print(f"  database: {_setup.sqlite_version() if database == 'sqlite' else _setup.postgres_version()}")
    print(f"  set-up: migrate {setup['migrate']:.1f} s, demo {setup['demo']:.1f} s")

    from fengqiao.core import clock

    rows = Rows(clock.now())
    result: dict = {"database": database, "setup": setup, "sizes": [], "load_before": os.getloadavg()}
    have = 0  # open cases not due
    for size in args.sizes:
        target = size - args.due
        t0 = time.perf_counter()
        added = insert(rows, ((f"{BULK_PREFIX}{i:08d}", "open") for i in range(have, target)))
        insert_seconds = time.perf_counter() - t0
        have = target
        reset_due(rows, args.due)
        t0 = time.perf_counter()
        _setup.vacuum_analyse()
        analyse_seconds = time.perf_counter() - t0
        print(f"\n  {size:,} open cases ({args.due:,} due): inserted {added:,} rows in {insert_seconds:.1f} s "
              f"({added / max(insert_seconds, 1e-9):,.0f} rows/s), statistics {analyse_seconds:.1f} s", flush=True)
        m = measure(rows, args.due, args.repeat, url)
        m.update(size=size, insert_seconds=insert_seconds, inserted=added, analyse_seconds=analyse_seconds)
        result["sizes"].append(m)
        print(f"    find due {m['find_ms']:.2f} ms; sweep {m['sweep_ms']:.0f} ms, CPU {m['sweep_cpu_ms']:.0f} ms (runs: "
              f"{', '.join(f'{s:.0f}' for s in m['sweep_runs_ms'])}); second sweep {m['idle_ms']:.2f} ms; "
              f"looked at {m['looked_at']}, warned {m['warned']}, overdue {m['overdue']}, escalated {m['escalated']}",
              flush=True)
        if m["server"]:
            print(f"    PostgreSQL per sweep: {m['server']['wal_mb']:.1f} MB of WAL, {m['server']['blocks_read']:,.0f} "
                  f"blocks read outside shared buffers, {m['server']['blocks_hit']:,.0f} hit; the sweep's connection "
                  "(share of samples every 50 ms):")
            print(_indent(_setup.table([[k, f"{v:.2f}"] for k, v in m["backends"]], ["connection", "share"]), "      "))
    result["plan"] = plan()
    if args.profile:
        from fengqiao.cases.services import sweep_deadlines

        reset_due(rows, args.due)
        print(f"\n  profile of one sweep of {args.due:,} due cases among {args.sizes[-1]:,} (cProfile)")
        print(_indent(_setup.profile(lambda: sweep_deadlines(limit=1000))))
    result["load_after"] = os.getloadavg()
    print_database(result)
    _setup.emit(result)
    if args.keep:
        print(f"  kept {workdir} and the database")
    else:
        _setup.clean_up(database, "bench_sweep", workdir)


def _indent(text: str, by: str = "    ") -> str:
    return "\n".join(by + line for line in text.splitlines())


def print_database(r: dict) -> None:
    sizes = r["sizes"]
    first = sizes[0]
    rows = []
    for m in sizes:
        rows.append([f"{m['size']:,}", f"{m['insert_seconds']:.1f}", f"{m['find_ms']:.2f}", f"{m['sweep_ms']:,.0f}",
                     f"{m['sweep_min_ms']:,.0f}", f"{m['sweep_cpu_ms']:,.0f}",
                     f"{m['idle_ms']:.2f}", f"{m['sweep_ms'] / first['sweep_ms']:.2f}",
                     f"{m['sweep_min_ms'] / first['sweep_min_ms']:.2f}", f"{m['sweep_cpu_ms'] / first['sweep_cpu_ms']:.2f}",
                     f"{m['find_ms'] / first['find_ms']:.2f}", f"{m['idle_ms'] / first['idle_ms']:.2f}",
                     f"{m['sweep_ms'] / m['find_ms']:,.0f}", f"{m['sweep_ms'] / max(m['looked_at'], 1):.2f}"])
    print(f"\n  == {r['database']} ==")
    print(_indent(_setup.table(rows, ["open cases", "insert s", "find due ms", "sweep ms", "min ms", "CPU ms",
                                      "2nd sweep ms", "sweep ratio", "min ratio", "CPU ratio", "find ratio",
                                      "2nd ratio", "sweep:find", "ms per due case"])))
    print("    sweep ms: median wall time of the runs; min ms: the fastest run; CPU ms: CPU time of this process\n"
          "    (median; on PostgreSQL the server's CPU is not in it); ratios: against the first size")
    if sizes[0]["server"]:
        print("    PostgreSQL per sweep: " + "; ".join(
            f"{m['size']:,}: {m['server']['wal_mb']:.1f} MB WAL, {m['server']['blocks_read']:,.0f} blocks read"
            for m in sizes))
    print("    then the worker's next step, fan_out_notices (the sweep's notices to outbox rows): " + "; ".join(
        f"{m['size']:,}: {m['fan_out_ms']:,.0f} ms for {m['notices']:,} notices, {m['messages']:,} rows"
        for m in sizes))
    last = sizes[-1]
    print(f"    load average (1 min) before {r['load_before'][0]:.1f}, after {r['load_after'][0]:.1f}")
    print(f"    statements per swept case: {last['statements_per_case']:.1f}")
    print(_indent(_setup.table([[k, f"{v:.2f}"] for k, v in last["statements"]], ["issued by", "per swept case"])))
    print("    plan of the find-due query:")
    print(_indent(r["plan"], "      "))
    if len(sizes) > 1:
        ratio = last["sweep_ms"] / first["sweep_ms"]
        print(f"    target ratio <= {TARGET_RATIO}: {'meets' if ratio <= TARGET_RATIO else 'MISSES'} ({ratio:.2f}); "
              f"target each sweep < {TARGET_MS:.0f} ms: "
              f"{'meets' if all(m['sweep_ms'] < TARGET_MS for m in sizes) else 'MISSES'} "
              f"({', '.join(format(m['sweep_ms'], ',.0f') for m in sizes)} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000],
                        help="open cases in the table, ascending (default 100,000 and 1,000,000)")
    parser.add_argument("--due", type=int, default=1000, help="cases due at each size (default 1,000)")
    parser.add_argument("--repeat", type=int, default=3, help="sweeps per size; the median is reported")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and the database")
    parser.add_argument("--profile", action="store_true", help="also profile one sweep at the largest size")
    parser.add_argument("--quick", action="store_true", help="sizes 10,000 and 100,000, 200 due, 1 repetition")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.due, args.repeat = [10_000, 100_000], 200, 1
    args.sizes = sorted(args.sizes)
    if args.sizes[0] <= args.due:
        parser.error("each size must exceed --due")
    if args.child:
        child(args)
        return
    print(f"Deadline sweep benchmark on {_setup.machine()}")
    databases = list(_setup.DATABASES) if args.database == "both" else [args.database]
    argv = ["--sizes", *map(str, args.sizes), "--due", str(args.due), "--repeat", str(args.repeat)]
    argv += (["--profile"] if args.profile else []) + (["--keep"] if args.keep else [])
    results = _setup.run_children(Path(__file__), databases, argv)
    if not results:
        return
    print("\n=== summary ===")
    rows = []
    for r in results:
        for m in r["sizes"]:
            first = r["sizes"][0]
            rows.append([r["database"], f"{m['size']:,}", f"{m['find_ms']:.2f}", f"{m['sweep_ms']:,.0f}",
                         f"{m['sweep_cpu_ms']:,.0f}", f"{m['idle_ms']:.2f}", f"{m['sweep_ms'] / first['sweep_ms']:.2f}",
                         f"{m['sweep_cpu_ms'] / first['sweep_cpu_ms']:.2f}", f"{m['find_ms'] / first['find_ms']:.2f}",
                         f"{m['statements_per_case']:.1f}"])
    print(_setup.table(rows, ["database", "open cases", "find due ms", "sweep ms", "sweep CPU ms", "2nd sweep ms",
                              "sweep ratio", "CPU ratio", "find ratio", "statements/case"]))


if __name__ == "__main__":
    main()
