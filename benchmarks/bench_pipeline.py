"""The whole pipeline against a local fake Graph API: cycle times, memory, latency.

    .venv/bin/python benchmarks/bench_pipeline.py                      # everything
    .venv/bin/python benchmarks/bench_pipeline.py --sizes 1000,10000 --backends sqlite
    .venv/bin/python benchmarks/bench_pipeline.py --skip-cycles        # latency and burst only
    .venv/bin/python benchmarks/bench_pipeline.py --backfill 2000      # a first run over 2,000 old comments

Cycles: for each size (comments on a fake Facebook Page, 95% ordinary and 5%
concerning texts from the classifier's corpus, over 100 posts in 60 days) and
each backend, a fresh process runs the first cycle, a quiet cycle and a cycle
with 100 new comments, timing each stage (fetch+store, classify+alert,
deliver) and the classifier's own share, then classifies the same comments
with the classifier alone, given what the pipeline gives it (each comment's
thread too). It prints the ratio of the whole cycle's throughput to the
classifier's, in wall-clock and in CPU seconds (the process's own: on a
shared machine the steadier figure), and the process's peak memory
(ru_maxrss). Mail goes to an SMTP sink on 127.0.0.1, in its own process (as
is the fake API), so neither is counted in the pipeline's memory or CPU.

The fake Graph API and the SMTP sink are in `pipeline_world.py`.

Daemon: `nurserywatch run` with poll_every = "10s" against the fake server.
Concerning comments are posted at random moments; the time from posting to
the alert reaching the SMTP sink gives comment-to-email latency, and the fake
server's request log gives the time between polls. Then 2,000 comments (100
concerning) arrive at once and an alert page is fetched every 100 ms until
they are all classified: page latency during a burst.

PostgreSQL: NURSERYWATCH_BENCH_DATABASE_URL, else NURSERYWATCH_TEST_DATABASE_URL,
with the tables in a schema "bench" (emptied first). `--code DIR` runs another
checkout's code (for before/after figures).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
CODE = Path(os.environ.get("BENCH_CODE") or HERE)
sys.path.insert(0, str(CODE))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # pipeline_world, beside this file

from pipeline_world import TOKEN, FakeServer, Sink, SinkProcess, free_port  # noqa: E402

SECRET = "benchmark-secret-key-0123456789abcdef"


# -- texts -------------------------------------------------------------------
DISCLOSURES = [
    "My daughter came home with a bruise on her arm and said a member of staff grabbed her",
    "My son told me one of the staff smacked him at nap time, I am so upset",
    "Why did my child come home with bite marks and scratches and nobody told me",
]


# -- databases -----------------------------------------------------------------
def pg_url() -> str | None:
    """The tables go in a schema "bench", emptied before each run (so a second run starts empty too)."""
    url = os.environ.get("NURSERYWATCH_BENCH_DATABASE_URL") or os.environ.get("NURSERYWATCH_TEST_DATABASE_URL")
    return url and url + ("&" if "?" in url else "?") + "options=-csearch_path%3Dbench"


def fresh_database(backend: str, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp}/bench.db"
    url = pg_url()
    if not url:
        raise SystemExit("PostgreSQL: set NURSERYWATCH_BENCH_DATABASE_URL or NURSERYWATCH_TEST_DATABASE_URL")
    import psycopg

    plain = url.split("?")[0].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS bench CASCADE")
        conn.execute("CREATE SCHEMA bench")
    return url


def settings(db_url: str, api_base: str, smtp_port: int, tmp: Path, web_port: int = 8080) -> dict:
    return {
        "setting": {"name": "Benchmark Nursery"},
        "roster": {"staff": ["Sarah Jones"], "children": ["Amelia Hart"]},
        "database": {"url": db_url},
        "web": {"listen": f"127.0.0.1:{web_port}", "base_url": f"http://127.0.0.1:{web_port}"},
        "email": {"from": "nurserywatch@bench.example", "smtp_host": "127.0.0.1", "smtp_port": smtp_port,
                  "smtp_starttls": False, "outbox_dir": str(tmp / "outbox")},
        "recipients": [{"name": "Jo Manager", "email": "manager@bench.example", "roles": ["manager", "admin"]},
                       {"name": "Sam Lead", "email": "dsl@bench.example", "roles": ["dsl"]}],
        "accounts": [{"platform": "facebook", "id": "1000", "token_env": "BENCH_FB_TOKEN", "api_base": api_base,
                      "poll_every": "10s"}],
        "digest": {"enabled": False},
    }


# -- one size on one backend (its own process, so peak memory is its own) ----------
class Stopwatch:
    """Wraps a function (sync or async) in place and adds up the time spent in it."""

    def __init__(self, owner, name: str):
        self.total = 0.0
        fn = getattr(owner, name)
        if asyncio.iscoroutinefunction(fn):
            async def timed(*a, **kw):
                t0 = time.perf_counter()
                try:
                    return await fn(*a, **kw)
                finally:
                    self.total += time.perf_counter() - t0
        else:
            def timed(*a, **kw):
                t0 = time.perf_counter()
                try:
                    return fn(*a, **kw)
                finally:
                    self.total += time.perf_counter() - t0
        setattr(owner, name, timed)

    def take(self) -> float:
        t, self.total = self.total, 0.0
        return t


def rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_size(backend: str, comments: int, old_only: bool = False) -> dict:
    import monitor.pipeline as pipeline
    from classifiers import build_classifier
    from monitor.core.settings import config_from_dict
    from monitor.runtime import build_runtime

    os.environ.setdefault("NURSERYWATCH_SECRET_KEY", SECRET)
    os.environ["BENCH_FB_TOKEN"] = TOKEN
    server, sink = FakeServer(comments, old_only), SinkProcess()
    out: dict = {"backend": backend, "comments": comments, "old_only": old_only, "rss_start_mb": round(rss_mb())}
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            config = config_from_dict(settings(fresh_database(backend, tmp), server.api_base, sink.port, tmp))
            t0 = time.perf_counter()
            classifier = build_classifier(config.setting, config.roster)
            classifier.classify_batch([("warm up", "facebook")])
            out["classifier_load_s"] = round(time.perf_counter() - t0, 2)
            clf = Stopwatch(classifier, "classify_batch")
            rt = build_runtime(config, classifier=classifier)
            stages = {name: Stopwatch(pipeline, name) for name in ("poll_account", "classify_pending", "deliver")
                      if hasattr(pipeline, name)}

            async def cycle(label: str) -> None:
                sent = len(sink.messages)
                t0, c0 = time.perf_counter(), time.process_time()
                report = await pipeline.run_cycle(rt)
                total, cpu = time.perf_counter() - t0, time.process_time() - c0
                sink.settle()
                row = {"total_s": round(total, 2), "cpu_s": round(cpu, 2),
                       **{k: round(s.take(), 2) for k, s in stages.items()},
                       "classifier_s": round(clf.take(), 2), "stored": report.stored, "alerts": report.alerts,
                       "summaries": getattr(report, "summaries", None), "emails": len(sink.messages) - sent,
                       "summary_emails": sum("What we found" in x for x in sink.subjects[sent:]),
                       "rss_mb": round(rss_mb())}
                out[label] = row

            async def cycles() -> None:
                await cycle("first")
                await cycle("quiet")
                server.add(100)
                await cycle("new100")
                await rt.aclose()

            asyncio.run(cycles())
            out["items"], out["classifier_alone_s"], out["classifier_alone_cpu_s"] = classifier_alone(rt, classifier)
            clf.take()
            out["rss_peak_mb"] = round(rss_mb())
            rt.sessions.dispose()
    finally:
        server.close()
        sink.close()
    return out


def classifier_alone(rt, classifier) -> tuple[int, float, float]:
    """The classifier on the same comments, given what the pipeline gives it (each
    comment's thread too, where the code has them), read 500 at a time; only
    classify_batch is timed (wall and CPU seconds)."""
    from sqlalchemy import select
    from monitor.core.models import Item

    try:
        from monitor.threads import classifier_inputs
    except ImportError:  # code from before threads: the comments alone
        def classifier_inputs(_session, items):
            return [(i.text, i.platform, i.rating) for i in items]
    count, wall, cpu, after = 0, 0.0, 0.0, 0
    while True:
        with rt.sessions() as s:
            items = s.scalars(select(Item).where(Item.id > after).order_by(Item.id).limit(500)).all()
            if not items:
                return count, round(wall, 2), round(cpu, 2)
            inputs = classifier_inputs(s, items)
        after, count = items[-1].id, count + len(items)
        t0, c0 = time.perf_counter(), time.process_time()
        classifier.classify_batch(inputs)
        wall, cpu = wall + time.perf_counter() - t0, cpu + time.process_time() - c0


# -- the daemon: punctuality, comment-to-email latency, pages during a burst -------
def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def run_daemon(backend: str, samples: int) -> dict:
    import httpx
    from sqlalchemy import create_engine, text as sql

    from monitor.core.db import normalise_url

    server, sink = FakeServer(200), Sink()
    out: dict = {"backend": backend}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        web_port = free_port()
        db_url = fresh_database(backend, tmp)
        cfg = settings(db_url, server.api_base, sink.port, tmp, web_port)
        path = tmp / "bench.toml"
        path.write_text(toml(cfg))
        env = os.environ | {"NURSERYWATCH_SECRET_KEY": SECRET, "BENCH_FB_TOKEN": TOKEN, "PYTHONPATH": str(CODE)}
        log = open(tmp / "daemon.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config", str(path)], cwd=CODE, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 180
            while len(server.feed_log()) < 2 and time.time() < deadline:  # the first cycle is over
                time.sleep(0.5)
            rng = random.Random(5)
            latencies = []
            for k in range(samples):
                time.sleep(rng.uniform(2, 12))
                marker = f"zq{k:03d}x"
                at = server.add(1, [f"{DISCLOSURES[k % len(DISCLOSURES)]} {marker}"])["at"]
                while time.time() < at + 90:
                    hit = [t for t, body in sink.messages if marker in body]
                    if hit:
                        latencies.append(min(hit) - at)
                        break
                    time.sleep(0.1)
            polls = server.feed_log()
            gaps = [b - a for a, b in zip(polls[1:], polls[2:])]
            out["poll_gap_s"] = {"median": round(statistics.median(gaps), 1), "min": round(min(gaps), 1),
                                 "max": round(max(gaps), 1), "n": len(gaps)}
            out["comment_to_email_s"] = {"p50": round(pct(latencies, 50), 1), "p95": round(pct(latencies, 95), 1),
                                         "max": round(max(latencies), 1), "n": len(latencies),
                                         "lost": samples - len(latencies)}
            link = next(m.group(0) for _t, body in sink.messages
                        if (m := re.search(rf"http://127\.0\.0\.1:{web_port}/a/[A-Za-z0-9._-]+", body)))
            engine = create_engine(normalise_url(db_url))
            with engine.connect() as conn:
                before = conn.scalar(sql("SELECT count(*) FROM item"))
            server.add(2000)
            times, t_end = [], None
            with httpx.Client(timeout=120) as web:
                start = time.time()
                while time.time() < start + 300:
                    t0 = time.perf_counter()
                    r = web.get(link)
                    times.append(time.perf_counter() - t0)
                    assert r.status_code == 200, r.status_code
                    with engine.connect() as conn:
                        pending = conn.scalar(sql("SELECT count(*) FROM item WHERE classified_at IS NULL"))
                        total = conn.scalar(sql("SELECT count(*) FROM item"))
                    if total >= before + 2000 and pending == 0:  # 2,000 comments (the post may or may not be kept)
                        t_end = t_end or time.time()
                    if t_end and time.time() > t_end + 3:
                        break
                    time.sleep(0.1)
            engine.dispose()
            out["burst_page_ms"] = {"p50": round(pct(times, 50) * 1000), "p95": round(pct(times, 95) * 1000),
                                    "max": round(max(times) * 1000), "n": len(times),
                                    "burst_done_s": round((t_end or time.time()) - start, 1)}
        finally:
            proc.terminate()
            proc.wait(60)
            log.close()
            server.close()
            sink.close()
    return out


def toml(data: dict, prefix: str = "") -> str:
    """Just enough TOML for the benchmark's config."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return str(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v)

    lines = []
    for section, body in data.items():
        if isinstance(body, list):
            for row in body:
                lines.append(f"[[{section}]]")
                lines += [f"{k} = {value(v)}" for k, v in row.items()]
        else:
            lines.append(f"[{section}]")
            lines += [f"{k} = {value(v)}" for k, v in body.items()]
    return "\n".join(lines) + "\n"


# -- report ------------------------------------------------------------------------
def child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          env=os.environ | {"BENCH_CODE": str(CODE)})
    if proc.returncode:
        raise SystemExit(f"benchmark child {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def show_size(r: dict) -> None:
    print(f"\n{r['backend']}, {r['comments']:,} comments ({r['items']:,} items); classifier load "
          f"{r['classifier_load_s']} s; peak memory {r['rss_peak_mb']} MB")
    for label in ("first", "quiet", "new100"):
        c = r[label]
        stages = ", ".join(f"{k} {c[k]} s" for k in ("poll_account", "classify_pending", "deliver") if k in c)
        print(f"  {label:7s} {c['total_s']:8.2f} s  ({stages}; classifier {c['classifier_s']} s) "
              f"stored {c['stored']}, alerts {c['alerts']}, emails {c['emails']} "
              f"({c.get('summary_emails', 0)} first-run summaries), rss {c['rss_mb']} MB")
    ratio = r["classifier_alone_s"] / r["first"]["total_s"] if r["first"]["total_s"] else 0
    line = (f"  classifier alone on the same items: {r['classifier_alone_s']} s; "
            f"first-cycle throughput / classifier's = {ratio:.2f}")
    if r["first"].get("cpu_s") and r.get("classifier_alone_cpu_s"):
        line += (f"; in CPU seconds {r['first']['cpu_s']} / {r['classifier_alone_cpu_s']}: "
                 f"{r['classifier_alone_cpu_s'] / r['first']['cpu_s']:.2f}")
    print(line)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--size":
        print(json.dumps(run_size(sys.argv[2], int(sys.argv[3]), sys.argv[4:] == ["old"])))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--daemon":
        print(json.dumps(run_daemon(sys.argv[2], int(sys.argv[3]))))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,10000,100000")
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--samples", type=int, default=20, help="comments posted to time comment-to-email")
    p.add_argument("--skip-cycles", action="store_true")
    p.add_argument("--skip-daemon", action="store_true")
    p.add_argument("--backfill", type=int, default=0,
                   help="only: a first run over this many comments all older than the backfill horizon")
    p.add_argument("--daemon-backends", default="sqlite")
    p.add_argument("--json", action="store_true", help="print raw results as JSON lines too")
    a = p.parse_args()
    print(f"code: {CODE}")
    if a.backfill:
        for backend in a.backends.split(","):
            r = child(["--size", backend, str(a.backfill), "old"])
            c = r["first"]
            print(f"\nfirst run over {a.backfill:,} comments older than the horizon, {backend}: {c['total_s']} s, "
                  f"alerts {c['alerts']}, emails {c['emails']} ({c['summary_emails']} first-run summaries)")
            if a.json:
                print(json.dumps(r))
        return
    if not a.skip_cycles:
        for size in [int(s) for s in a.sizes.split(",")]:
            for backend in a.backends.split(","):
                r = child(["--size", backend, str(size)])
                show_size(r)
                if a.json:
                    print(json.dumps(r))
    if not a.skip_daemon:
        for backend in a.daemon_backends.split(","):
            r = child(["--daemon", backend, str(a.samples)])
            print(f"\ndaemon on {backend}, poll_every 10s: polls every {r['poll_gap_s']} s")
            print(f"  comment to email: {r['comment_to_email_s']}")
            print(f"  alert page during a 2,000-comment burst: {r['burst_page_ms']} ms")
            if a.json:
                print(json.dumps(r))


if __name__ == "__main__":
    main()
