"""Throughput and memory of the classifier on ONE core.

    .venv/bin/python benchmarks/bench_classify.py [--n 20000] [--batch 256]

Pins itself to one CPU and one BLAS thread, builds the classifier as the service
does (shipped model, corpus setting and roster), then classifies corpus comments
(train + dev, cycled to --n) through classify_batch and through classify one at
a time. Prints comments/s and the peak resident memory of the process.
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
    started = time.perf_counter()
    flagged = 0
    for i in range(0, len(items), args.batch):
        flagged += sum(bool(r.labels) for r in clf.classify_batch(items[i:i + args.batch]))
    batch_s = time.perf_counter() - started

    single_n = min(len(items), 5000)
    started = time.perf_counter()
    for text, platform, rating in items[:single_n]:
        clf.classify(text, platform, rating)
    single_s = time.perf_counter() - started

    print(f"model loaded: {clf.has_model}; build_classifier {build_s:.2f} s")
    print(f"classify_batch: {len(items)} comments ({words / len(items):.1f} words avg) in {batch_s:.2f} s "
          f"= {len(items) / batch_s:,.0f} comments/s on one core ({flagged / len(items):.0%} flagged)")
    print(f"classify (one at a time): {single_n / single_s:,.0f} comments/s")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")
    if args.cli:
        bench_cli(items)
    return 0


def _run_classify(lines: str) -> tuple[float, float]:
    """(seconds, child's peak RSS in MB) for one `nurserywatch classify` run."""
    from classifiers.corpus import CORPUS_CONFIG

    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "monitor", "classify", "--config", str(CORPUS_CONFIG)],
                          input=lines, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    assert done.stdout.count("\n") == lines.count("\n")
    return seconds, max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def bench_cli(items: list[tuple]) -> None:
    """The child inherits this process's one-CPU affinity."""
    full = "".join(json.dumps({"id": str(n), "text": t, "platform": p}) + "\n" for n, (t, p, _) in enumerate(items))
    startup_s, _ = _run_classify(full.splitlines(keepends=True)[0])
    total_s, rss = _run_classify(full)
    n = len(items)
    print(f"nurserywatch classify (CLI, one core): {n} lines in {total_s:.2f} s = {n / total_s:,.0f} comments/s "
          f"end to end; {n / max(total_s - startup_s, 1e-9):,.0f} comments/s after a {startup_s:.2f} s start-up; "
          f"peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    raise SystemExit(main())
