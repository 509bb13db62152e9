"""Load on the resident portal's report form: many residents at once, each report with a photo.

A real server process (`fengqiao serve`: gunicorn, a worker per CPU of 8 threads, debug off, rate limits raised by
configuration: FENGQIAO_PUBLIC_RATE=off) on loopback; N client threads each fetch the form once (CSRF
cookie and token), then POST multipart reports, each with a small JPEG and its own idempotency key,
asking for JSON. A refused or broken connection is retried with the same key. Figures:

- throughput (reports/s), latency p50/p95, errors (target 0);
- lost reports (a success whose case is not in the database) and duplicated ones (two cases for one
  idempotency key), both counted in the database after the run (target 0);
- the report page's weight without the photo: its HTML and the CSS and JS it loads (target < 200 KB);
  ECharts is loaded only when the resident opens the map, and is listed apart;
- a baseline in the same run: the same number of GETs of a static file by the same clients.

    .venv/bin/python bench/portal_load.py                      # SQLite and PostgreSQL, 5,000 reports, 200 clients
    .venv/bin/python bench/portal_load.py --database sqlite --reports 1000 --clients 50
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import queue
import re
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _setup  # noqa: E402

NAME = "bench_portal"
BOUNDARY = "----fengqiao-bench-boundary"


def jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (180, 90, 40)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def build_territory() -> dict:
    """A county, a township, a village with four grids, and the default category catalogue."""
    from fengqiao.cases.catalogue import catalogue_load_defaults
    from fengqiao.cases.models import Category
    from fengqiao.geo.models import Grid, Region, RegionLevel

    def square(lon: float, lat: float, size: float) -> dict:
        return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + size, lat], [lon + size, lat + size],
                                                    [lon, lat + size], [lon, lat]]]}

    county = Region.objects.create(code="330681", name="诸暨市", level=RegionLevel.COUNTY, boundary=square(120, 29.5, 0.4))
    town = Region.objects.create(code="330681110", name="枫桥镇", level=RegionLevel.TOWNSHIP, parent=county,
                                 boundary=square(120.2, 29.6, 0.1))
    village = Region.objects.create(code="330681110201", name="枫源村", level=RegionLevel.VILLAGE, parent=town,
                                    boundary=square(120.2, 29.6, 0.1))
    for i in range(4):
        lon, lat = 120.2 + 0.05 * (i % 2), 29.6 + 0.05 * (i // 2)
        grid = Grid(code=f"{village.code}{i + 1:03d}", name=f"第{i + 1}网格", region=village, geometry=square(lon, lat, 0.05))
        grid.save()
    catalogue_load_defaults()
    leaf = Category.objects.filter(is_active=True, children__isnull=True).order_by("code").first()
    return {"category": leaf.pk if leaf else None, "village": village.code}


def multipart(fields: dict[str, str], photo: bytes) -> bytes:
    parts = []
    for name, value in fields.items():
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photos"; filename="p.jpg"\r\n'
                 f"Content-Type: image/jpeg\r\n\r\n".encode() + photo + b"\r\n")
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)


class Client(threading.Thread):
    def __init__(self, port: int, jobs: queue.Queue, results: list, lock: threading.Lock, *, kind: str,
                 territory: dict, photo: bytes):
        super().__init__(daemon=True)
        self.port, self.jobs, self.results, self.lock = port, jobs, results, lock
        self.kind, self.territory, self.photo = kind, territory, photo
        self.conn: http.client.HTTPConnection | None = None
        self.cookie = self.token = ""

    def connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        return self.conn

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        for attempt in range(30):
            try:
                conn = self.connection()
                conn.request(method, path, body=body, headers=headers or {})
                response = conn.getresponse()
                return response.status, response.read(), response
            except (ConnectionError, http.client.HTTPException, OSError):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                time.sleep(min(2.0, 0.05 * (attempt + 1)))
        return 0, b"", None

    def login_form(self) -> None:
        status, body, response = self.request("GET", "/portal/report/", headers={"Accept-Language": "en"})
        assert status == 200, status
        cookie = response.getheader("Set-Cookie", "")
        self.cookie = re.search(r"csrftoken=([^;]+)", cookie).group(1)
        self.token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()

    def run(self) -> None:
        if self.kind == "report":
            self.login_form()
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                break
            t0 = time.perf_counter()
            if self.kind == "static":
                status, _body, _response = self.request("GET", "/static/portal/portal.css")
                ok, code = status == 200, ""
            else:
                fields = {"csrfmiddlewaretoken": self.token, "request_type": "report",
                          "category": str(self.territory["category"]), "description": f"bench report {job}",
                          "grid": f"{self.territory['village']}{job % 4 + 1:03d}", "is_public": "1",
                          "anonymous": "on", "idempotency_key": job_key(job)}
                body = multipart(fields, self.photo)
                headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Accept": "application/json",
                           "Cookie": f"csrftoken={self.cookie}", "Accept-Language": "en"}
                for _attempt in range(20):  # busy (503): the same form, same key, a moment later
                    status, payload, _response = self.request("POST", "/portal/report/", body=body, headers=headers)
                    if status != 503:
                        break
                    time.sleep(1)
                ok = status == 201
                code = json.loads(payload)["tracking_code"] if ok else f"{status}:{payload[:200]!r}"
            with self.lock:
                self.results.append((job, ok, code, time.perf_counter() - t0))
        if self.conn is not None:
            self.conn.close()


KEYS: dict[int, str] = {}


def job_key(job: int) -> str:
    return KEYS.setdefault(job, uuid.uuid4().hex)


def drive(port: int, n: int, clients: int, kind: str, territory: dict, photo: bytes) -> dict:
    jobs: queue.Queue = queue.Queue()
    for i in range(n):
        jobs.put(i)
    results: list = []
    lock = threading.Lock()
    threads = [Client(port, jobs, results, lock, kind=kind, territory=territory, photo=photo) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    latencies = [r[3] for r in results]
    failures = [r for r in results if not r[1]]
    return {"n": n, "seconds": seconds, "rate": len(results) / seconds, **_setup.latency_summary(latencies),
            "errors": len(failures), "error_samples": [f[2] for f in failures[:3]],
            "codes": [r[2] for r in results if r[1]]}


def page_weight(port: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(path: str) -> bytes:
        conn.request("GET", path, headers={"Accept-Language": "zh-hans"})
        response = conn.getresponse()
        return response.read()

    html = get("/portal/report/")
    assets = re.findall(rb'<link rel="stylesheet" href="([^"]+)"', html) + re.findall(rb'<script src="([^"]+)"', html)
    sizes = {"html": len(html)}
    for asset in assets:
        sizes[asset.decode()] = len(get(asset.decode()))
    lazy = re.search(rb'data-echarts="([^"]+)"', html)
    on_demand = len(get(lazy.group(1).decode())) if lazy else 0
    conn.close()
    return {"total": sum(sizes.values()), "parts": sizes, "echarts_on_demand": on_demand}


def child(args) -> None:
    workdir = _setup.private_workdir("portal-load-")
    name = NAME if args.database == "postgres" else "portal_load"
    try:
        _url, env = _setup.setup_django(args.database, name, workdir)
        territory = build_territory()
        from django.core.management import call_command
        from intake import Server

        call_command("collectstatic", interactive=False, verbosity=0)  # debug off: hashed static files

        env = {**env, "FENGQIAO_PUBLIC_RATE": "off"}
        # gunicorn: a fixed pool of 8 threads a worker (and so at most that many database connections); the 200
        # clients queue at the server, as they would at a production server
        server = Server(env, workdir)
        try:
            server.wait_ready()
            photo = jpeg()
            weight = page_weight(server.port)
            baseline = drive(server.port, args.reports, args.clients, "static", territory, photo)
            load = drive(server.port, args.reports, args.clients, "report", territory, photo)
        finally:
            server.stop()
        log = Path(server.log.name).read_text(errors="replace").splitlines()
        failures = [line for line in log if "Error" in line or "error" in line.lower() and "Traceback" not in line]
        if failures:
            print(f"server log: {len(failures)} error lines, e.g.", *sorted(set(failures))[:5], sep="\n  ")
        from django.db.models import Count

        from fengqiao.cases.models import Case

        stored = set(Case.objects.filter(channel="resident").values_list("tracking_code", flat=True))
        codes = set(load["codes"])
        lost = len(codes - stored)
        duplicated = sum(c - 1 for c in Case.objects.filter(channel="resident").values("description")
                         .annotate(c=Count("id")).values_list("c", flat=True) if c > 1)
        print(_setup.table([
            ["static GET (baseline)", f"{baseline['rate']:.0f}/s", f"{baseline['p50_ms']:.1f}", f"{baseline['p95_ms']:.1f}",
             str(baseline["errors"]), "", ""],
            ["report with photo", f"{load['rate']:.1f}/s", f"{load['p50_ms']:.1f}", f"{load['p95_ms']:.1f}",
             str(load["errors"]), str(lost), str(duplicated)],
        ], ["", "throughput", "p50 ms", "p95 ms", "errors", "lost", "duplicated"]))
        print(f"{args.reports} reports by {args.clients} clients; cases stored {len(stored)}, successes {len(codes)}; "
              f"report/static throughput ratio {load['rate'] / baseline['rate']:.3f}")
        if load["error_samples"]:
            print("error samples:", load["error_samples"])
        print(f"report page weight without the photo: {weight['total'] / 1024:.1f} KB "
              f"({', '.join(f'{k} {v / 1024:.1f} KB' for k, v in weight['parts'].items())}); "
              f"ECharts on demand (map opened): {weight['echarts_on_demand'] / 1024:.0f} KB")
        _setup.emit({"database": args.database, "rate": load["rate"], "p95_ms": load["p95_ms"],
                     "errors": load["errors"], "lost": lost, "duplicated": duplicated,
                     "baseline_rate": baseline["rate"], "page_kb": weight["total"] / 1024})
    finally:
        _setup.clean_up(args.database, name, workdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=_setup.DATABASES, action="append")
    parser.add_argument("--reports", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        args.database = args.database[0]
        child(args)
        return
    print(_setup.machine())
    _setup.run_children(Path(__file__).resolve(), args.database or list(_setup.DATABASES),
                        ["--reports", str(args.reports), "--clients", str(args.clients)])


if __name__ == "__main__":
    main()
