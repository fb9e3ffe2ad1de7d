"""Throughput and memory of the classifier on ONE core.

    .venv/bin/python benchmarks/bench_classify.py [--n 20000] [--batch 256] [--cli] [--previous REV]

Pins itself to one CPU and one BLAS thread, builds the classifier as the service
does (shipped model, corpus setting and roster), then classifies corpus comments
(train + dev, cycled to --n) through classify_batch and through classify one at
a time. Prints comments/s and the peak resident memory of the process, and the
plain keyword list (classifiers/baseline.py) on the same comments.

`--previous REV` also runs the classifier of git revision REV (exported to a
temporary folder) on the same comments in a child process pinned to the same
CPU, so both versions are measured in the same run; ratios are printed.

Rates are comments per CPU-second of this process (time.process_time; for the
CLI, the child's user + system time): on a shared machine the wall clock also
counts other programs' turns on the core, CPU time does not. Wall-clock figures
are printed beside them.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="comments to classify (default 20000)")
    parser.add_argument("--batch", type=int, default=256, help="classify_batch chunk size (default 256)")
    parser.add_argument("--cpu", type=int, default=0, help="CPU to pin to (default 0)")
    parser.add_argument("--cli", action="store_true", help="also time the `nurserywatch classify` command")
    parser.add_argument("--previous", metavar="REV", default=None,
                        help="also measure the classifier of git revision REV on the same comments")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})

    from classifiers import build_classifier
    from classifiers.corpus import corpus_config, load_split

    cfg = corpus_config()
    started = time.perf_counter()
    clf = build_classifier(cfg.setting, cfg.roster)
    build_s = time.perf_counter() - started
    examples = load_split("train") + load_split("dev")
    if not examples:
        print("no corpus comments found", file=sys.stderr)
        return 1
    items = [(e.text, e.platform, e.rating) for e in itertools.islice(itertools.cycle(examples), args.n)]
    words = sum(len(t.split()) for t, _, _ in items)

    clf.classify_batch(items[:500])  # warm the tokenizer cache and lexeme tables
    started, wall = time.process_time(), time.perf_counter()
    flagged = 0
    for i in range(0, len(items), args.batch):
        flagged += sum(bool(r.labels) for r in clf.classify_batch(items[i:i + args.batch]))
    batch_s, batch_wall = time.process_time() - started, time.perf_counter() - wall

    single_n = min(len(items), 5000)
    started = time.process_time()
    for text, platform, rating in items[:single_n]:
        clf.classify(text, platform, rating)
    single_s = time.process_time() - started

    from classifiers.baseline import KeywordBaseline

    kw = KeywordBaseline()
    started = time.process_time()
    for text, platform, rating in items:
        kw.classify(text, platform, rating)
    kw_s = time.process_time() - started

    rate = len(items) / batch_s
    print(f"model loaded: {clf.has_model}; build_classifier {build_s:.2f} s")
    print(f"classify_batch: {len(items)} comments ({words / len(items):.1f} words avg) in {batch_s:.2f} CPU-s "
          f"= {rate:,.0f} comments/s on one core ({flagged / len(items):.0%} flagged; wall clock "
          f"{len(items) / batch_wall:,.0f}/s, load average {os.getloadavg()[0]:.1f})")
    print(f"classify (one at a time): {single_n / single_s:,.0f} comments/s")
    print(f"keyword list: {len(items) / kw_s:,.0f} comments/s (nurserywatch is {rate / (len(items) / kw_s):.2f}x its speed)")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")
    cli_now = bench_cli(items) if args.cli else None
    if args.previous:
        bench_previous(args.previous, items, args.batch, rate, cli_now, args.cli)
    return 0


PREVIOUS_SNIPPET = """
import itertools, json, resource, sys, time
sys.path.insert(0, ".")
from classifiers import build_classifier
from classifiers.corpus import corpus_config
cfg = corpus_config()
clf = build_classifier(cfg.setting, cfg.roster)
items = [tuple(i) for i in json.load(open(sys.argv[1]))]
batch = int(sys.argv[2])
clf.classify_batch(items[:500])
t = time.process_time()
for i in range(0, len(items), batch):
    clf.classify_batch(items[i:i + batch])
print(json.dumps({"rate": len(items) / (time.process_time() - t),
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def bench_previous(rev: str, items: list[tuple], batch: int, rate: float, cli_now: float | None, cli: bool) -> None:
    """The classifier of git revision `rev`, same comments, same CPU, in a child process."""
    import tempfile

    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(root), "archive", rev], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        data = Path(tmp) / "items.json"
        data.write_text(json.dumps(items))
        done = subprocess.run([sys.executable, "-c", PREVIOUS_SNIPPET, str(data), str(batch)], cwd=tmp,
                              capture_output=True, text=True, check=True)
        prev = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"previous version ({rev}): {prev['rate']:,.0f} comments/s through classify_batch, peak RSS "
              f"{prev['rss']:.0f} MB; this version is {rate / prev['rate']:.2f}x its speed")
        if cli:
            prev_cli = bench_cli(items, cwd=Path(tmp), label=f"previous version ({rev})")
            if cli_now and prev_cli:
                print(f"CLI end to end: this version is {cli_now / prev_cli:.2f}x the previous one")


def _run_classify(lines: str, cwd: Path | None = None) -> tuple[float, float]:
    """(CPU seconds, child's peak RSS in MB) for one `nurserywatch classify` run (in `cwd`'s checkout)."""
    config = "classifiers/data/corpus_config.toml"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "monitor", "classify", "--config", config],
                          input=lines, capture_output=True, text=True, check=True,
                          cwd=cwd or Path(__file__).resolve().parents[1])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.stdout.count("\n") == lines.count("\n")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return cpu, max(before.ru_maxrss, after.ru_maxrss) / 1024


def bench_cli(items: list[tuple], cwd: Path | None = None, label: str = "nurserywatch classify") -> float:
    """The child inherits this process's one-CPU affinity. Returns comments/s end to end."""
    full = "".join(json.dumps({"id": str(n), "text": t, "platform": p}) + "\n" for n, (t, p, _) in enumerate(items))
    startup_s, _ = _run_classify(full.splitlines(keepends=True)[0], cwd)
    total_s, rss = _run_classify(full, cwd)
    n = len(items)
    print(f"{label} (CLI, one core): {n} lines in {total_s:.2f} CPU-s = {n / total_s:,.0f} comments/s "
          f"end to end; {n / max(total_s - startup_s, 1e-9):,.0f} comments/s after a {startup_s:.2f} CPU-s start-up; "
          f"peak RSS {rss:.0f} MB")
    return n / total_s


if __name__ == "__main__":
    raise SystemExit(main())
