"""Throughput and memory of the classifier on ONE core.

    .venv/bin/python benchmarks/bench_classify.py [--n 20000] [--batch 256] [--runs 3] [--cli] [--stages] [--previous REV]

Pins itself to one CPU and one BLAS thread, builds the classifier as the service
does (shipped model, corpus setting and roster), then classifies corpus comments
(train + dev, cycled to --n) through classify_batch, --runs times, and through
classify one at a time. Prints comments/s and the peak resident memory of the
process, and the plain keyword list (classifiers/baseline.py) on the same
comments in each run.

`--previous REV` also runs the classifier of git revision REV (exported to a
temporary folder) on the same comments in a child process pinned to the same
CPU. The two are timed AT THE SAME TIME, run by run: both processes share the
one core, each counts its own CPU time, so a change of load on a shared machine
cannot favour either (timed one after the other, the ratio moved by +-30%
between runs). With --cli, the two versions' `nurserywatch classify` run one
after the other, alternating, --runs times. Every ratio is printed per run and
as the median of the runs. `--stages` times each stage of the same comments on their own:
spaCy's tokenizer, the normaliser, the text model, and judging, apart for the flagged comments and
the others.

Rates are comments per CPU-second of the process (time.process_time; for the
CLI, the child's user + system time): on a shared machine the wall clock also
counts other programs' turns on the core, CPU time does not. Wall-clock figures
are printed beside them.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def mix(examples: list, benign_share: float, n: int) -> list:
    """`n` corpus comments of which `benign_share` have no label, spread evenly (each list cycled in order)."""
    if not 0.0 <= benign_share <= 1.0:
        raise SystemExit(f"--benign-share must be between 0 and 1 (got {benign_share})")
    benign = itertools.cycle([e for e in examples if not e.labels])
    labelled = itertools.cycle([e for e in examples if e.labels])
    return [next(benign) if int((i + 1) * benign_share) > int(i * benign_share) else next(labelled) for i in range(n)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="comments to classify (default 20000)")
    parser.add_argument("--batch", type=int, default=256, help="classify_batch chunk size (default 256)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs; medians are printed (default 3)")
    parser.add_argument("--cpu", type=int, default=0, help="CPU to pin to (default 0)")
    parser.add_argument("--cli", action="store_true", help="also time the `nurserywatch classify` command")
    parser.add_argument("--stages", action="store_true", help="also print where a comment's time goes, stage by stage")
    parser.add_argument("--benign-share", type=float, default=None, metavar="F",
                        help="share of comments with no label, e.g. 0.9 for a real Page's stream (default: the "
                             "corpus as written, about half flagged; the issue's targets are measured on that)")
    parser.add_argument("--previous", metavar="REV", default=None,
                        help="also measure the classifier of git revision REV on the same comments, at the same time")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})

    from classifiers import build_classifier
    from classifiers.baseline import KeywordBaseline
    from classifiers.corpus import corpus_config, load_split

    cfg = corpus_config()
    started = time.perf_counter()
    clf = build_classifier(cfg.setting, cfg.roster)
    build_s = time.perf_counter() - started
    examples = load_split("train") + load_split("dev")
    if not examples:
        print("no corpus comments found", file=sys.stderr)
        return 1
    if args.benign_share is not None:
        examples = mix(examples, args.benign_share, args.n)
    items = [(e.text, e.platform, e.rating) for e in itertools.islice(itertools.cycle(examples), args.n)]
    words = sum(len(t.split()) for t, _, _ in items)
    kw = KeywordBaseline()
    print(f"model loaded: {clf.has_model}; build_classifier {build_s:.2f} s; {len(items)} comments "
          f"({words / len(items):.1f} words avg)")

    with contextlib.ExitStack() as stack:
        previous = stack.enter_context(Previous(args.previous, items, args.batch)) if args.previous else None
        clf.classify_batch(items[:500])  # warm the tokenizer cache and lexeme tables
        rates, kw_rates, prev_rates, flagged = [], [], [], 0
        for run in range(1, args.runs + 1):
            if previous:
                previous.go()
            started, wall = time.process_time(), time.perf_counter()
            flagged = 0
            for i in range(0, len(items), args.batch):
                flagged += sum(bool(r.labels) for r in clf.classify_batch(items[i:i + args.batch]))
            batch_s, batch_wall = time.process_time() - started, time.perf_counter() - wall
            prev = previous.result() if previous else None
            started = time.process_time()
            for text, platform, rating in items:
                kw.classify(text, platform, rating)
            kw_s = time.process_time() - started
            rates.append(len(items) / batch_s)
            kw_rates.append(len(items) / kw_s)
            line = (f"run {run}: classify_batch {rates[-1]:,.0f} comments/s on one core (wall clock "
                    f"{len(items) / batch_wall:,.0f}/s, load average {os.getloadavg()[0]:.1f}); keyword list "
                    f"{kw_rates[-1]:,.0f}/s (ratio {rates[-1] / kw_rates[-1]:.2f})")
            if prev:
                prev_rates.append(prev["rate"])
                line += f"; previous {prev['rate']:,.0f}/s at the same time (ratio {rates[-1] / prev['rate']:.2f})"
            print(line)
        prev_rss = previous.rss if previous else None

    med = statistics.median
    rate = med(rates)
    print(f"classify_batch: median {rate:,.0f} comments/s on one core over {args.runs} run(s) "
          f"({flagged / len(items):.0%} flagged)")
    print(f"keyword list: median {med(kw_rates):,.0f} comments/s; nurserywatch / keyword list, median of the "
          f"runs' ratios: {med(r / k for r, k in zip(rates, kw_rates)):.2f}")
    if prev_rates:
        print(f"previous version ({args.previous}): median {med(prev_rates):,.0f} comments/s, peak RSS {prev_rss:.0f} MB; "
              f"this / previous, median of the runs' ratios: {med(r / p for r, p in zip(rates, prev_rates)):.2f}")

    single_n = min(len(items), 5000)
    started = time.process_time()
    for text, platform, rating in items[:single_n]:
        clf.classify(text, platform, rating)
    print(f"classify (one at a time): {single_n / (time.process_time() - started):,.0f} comments/s")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")
    if args.stages:
        bench_stages(clf, items, args.runs)
    if args.cli:
        bench_cli_runs(items, args.runs, args.previous)
    return 0


def bench_stages(clf, items: list[tuple], runs: int) -> None:
    """Where a comment's time goes, per comment on one core (medians of `runs`): spaCy's tokenizer,
    the normaliser, the text model, then judging (detectors, context, combiner, findings) of the
    comments that were flagged and of those that were not."""
    from classifiers.classifier import NORMALISER, as_comment, gc_paused

    comments = [as_comment(it) for it in items]
    normalise = clf.nlp.get_pipe(NORMALISER)
    rows: dict[str, list[float]] = {}
    n_flagged = 0
    for _ in range(runs):
        took = {"tokenizer": 0.0, "normaliser": 0.0, "text model": 0.0, "judge, flagged": 0.0, "judge, not flagged": 0.0}
        n_flagged = 0
        with gc_paused():
            for i in range(0, len(comments), 256):
                chunk = comments[i:i + 256]
                t = time.process_time()
                docs = [clf.nlp.make_doc(c.text) for c in chunk]
                took["tokenizer"] += time.process_time() - t
                t = time.process_time()
                docs = [normalise.apply(d, c.text) for d, c in zip(docs, chunk)]
                took["normaliser"] += time.process_time() - t
                t = time.process_time()
                if clf.fastcat is not None:
                    clf.fastcat.set_cats(docs)
                took["text model"] += time.process_time() - t
                for d, c in zip(docs, chunk):
                    t = time.process_time()
                    flagged = bool(clf._judge(d, c).labels)
                    took["judge, flagged" if flagged else "judge, not flagged"] += time.process_time() - t
                    n_flagged += flagged
        for k, v in took.items():
            per = n_flagged if k == "judge, flagged" else len(comments) - n_flagged if k == "judge, not flagged" else len(comments)
            rows.setdefault(k, []).append(v / max(per, 1) * 1e6)
    med = statistics.median
    print("where the time goes (us per comment, one core, median of the runs; process_time's own cost included): "
          + "; ".join(f"{k} {med(v):.0f}" for k, v in rows.items()) + f" ({n_flagged} of {len(comments)} flagged)")


PREVIOUS_SNIPPET = """
import json, re, sys, time
sys.path.insert(0, ".")
from classifiers import build_classifier
from classifiers.corpus import corpus_config
cfg = corpus_config()
clf = build_classifier(cfg.setting, cfg.roster)
items = [tuple(i) for i in json.load(open(sys.argv[1]))]
batch = int(sys.argv[2])
clf.classify_batch(items[:500])
print("ready", flush=True)
for _go in sys.stdin:
    t = time.process_time()
    for i in range(0, len(items), batch):
        clf.classify_batch(items[i:i + batch])
    with open("/proc/self/status") as fh:  # VmHWM: this process's own peak, not its forking parent's
        rss = int(re.search(r"VmHWM:\\s+(\\d+)", fh.read()).group(1)) / 1024
    print(json.dumps({"rate": len(items) / (time.process_time() - t), "rss": rss}), flush=True)
"""


class Previous:
    """The classifier of git revision `rev` in a child process on the same CPU (it inherits the
    affinity), classifying the same comments whenever told to go."""

    def __init__(self, rev: str, items: list[tuple], batch: int):
        self.rev, self.items, self.batch = rev, items, batch
        self.rss = 0.0

    def __enter__(self) -> "Previous":
        self._tmp = tempfile.TemporaryDirectory()
        tmp = Path(self._tmp.name)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", self.rev], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        (tmp / "items.json").write_text(json.dumps(self.items))
        self.proc = subprocess.Popen([sys.executable, "-c", PREVIOUS_SNIPPET, str(tmp / "items.json"), str(self.batch)],
                                     cwd=tmp, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the classifier of {self.rev} did not start")
        return self

    def go(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def result(self) -> dict:
        out = json.loads(self.proc.stdout.readline())
        self.rss = out["rss"]
        return out

    def __exit__(self, *exc) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self._tmp.cleanup()


# `python -m monitor classify`, reporting its own peak RSS: VmHWM belongs to the process's own memory
# (getrusage's ru_maxrss also counts the forking parent's, and RUSAGE_CHILDREN's is the largest of all children)
CLI_SNIPPET = """
import atexit, re, runpy, sys
def peak():
    with open("/proc/self/status") as fh:
        print("peak_rss_kb", re.search(r"VmHWM:\\s+(\\d+)", fh.read()).group(1), file=sys.stderr)
atexit.register(peak)
sys.argv = ["nurserywatch", "classify", "--config", "classifiers/data/corpus_config.toml"]
runpy.run_module("monitor", run_name="__main__", alter_sys=True)
"""


def _run_classify(lines: str, cwd: Path) -> tuple[float, float]:
    """(CPU seconds, peak RSS in MB) of one `nurserywatch classify` run (in `cwd`'s checkout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-c", CLI_SNIPPET], input=lines, capture_output=True, text=True,
                          check=True, cwd=cwd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.stdout.count("\n") == lines.count("\n")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    rss_kb = [int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("peak_rss_kb ")]
    return cpu, rss_kb[-1] / 1024


def bench_cli(items: list[tuple], cwd: Path, label: str) -> tuple[float, float]:
    """One end-to-end `nurserywatch classify` run (the child inherits the one-CPU affinity):
    (comments/s including start-up, start-up CPU-s)."""
    full = "".join(json.dumps({"id": str(n), "text": t, "platform": p}) + "\n" for n, (t, p, _) in enumerate(items))
    startup_s, _ = _run_classify(full.splitlines(keepends=True)[0], cwd)
    total_s, rss = _run_classify(full, cwd)
    n = len(items)
    print(f"  {label} (CLI, one core): {n} lines in {total_s:.2f} CPU-s = {n / total_s:,.0f} comments/s "
          f"end to end; {n / max(total_s - startup_s, 1e-9):,.0f} comments/s after a {startup_s:.2f} CPU-s start-up; "
          f"peak RSS {rss:.0f} MB")
    return n / total_s, startup_s


def bench_cli_runs(items: list[tuple], runs: int, previous: str | None) -> None:
    """`nurserywatch classify` of this checkout (and of `previous`), alternating, `runs` times."""
    with contextlib.ExitStack() as stack:
        prev_root = None
        if previous:
            prev_root = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", previous], capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(prev_root)], input=archive, check=True)
        now, before, starts = [], [], []
        for run in range(1, runs + 1):
            print(f"CLI run {run}:")
            rate, startup = bench_cli(items, ROOT, "nurserywatch classify")
            now.append(rate)
            starts.append(startup)
            if prev_root:
                before.append(bench_cli(items, prev_root, f"previous version ({previous})")[0])
    med = statistics.median
    line = (f"nurserywatch classify, {len(items)} comments: median {med(now):,.0f} comments/s end to end "
            f"(start-up {med(starts):.2f} CPU-s)")
    if before:
        line += (f"; previous version median {med(before):,.0f}/s; this / previous, median of the runs' ratios: "
                 f"{med(a / b for a, b in zip(now, before)):.2f}")
    print(line)


if __name__ == "__main__":
    raise SystemExit(main())
