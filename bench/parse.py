"""Benchmark and scoreboard of the parse stage over the shared corpora.

    python3 bench/parse.py                 # messages/second per corpus folder (parse + quotes)
    python3 bench/parse.py --reply-eval    # reply-splitting score (talon, discourse-receiver,
                                           # and tests/fixtures/replies, exact own text)
    python3 bench/parse.py --bounce-eval   # bounce score (flufl.bounce)

The corpora folder is ``../shared/corpora`` next to the repository, or ``$COMMGATE_CORPORA``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.cli.parse import mail_files
from gateway.errors import Quarantine
from gateway.parse import evaluation
from gateway.parse.message import parse_message

_SKIP = {".json", ".jsonl", ".md", ".html", ".bin", ".py", ".gitignore"}


def corpora_root() -> Path:
    env = os.environ.get("COMMGATE_CORPORA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "corpora"


def bench(root: Path, repeat: int) -> None:
    print(f"{'corpus':<30} {'msgs':>6} {'quarant.':>8} {'MB':>7} {'msg/s':>8} {'p99 ms':>7}")
    total_n = total_t = 0.0
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        raws = [p.read_bytes() for p in mail_files([folder]) if p.suffix not in _SKIP]
        if not raws:
            continue
        times: list[float] = []
        quarantined = 0
        for _ in range(repeat):
            for raw in raws:
                start = time.perf_counter()
                try:
                    parse_message(raw)  # includes quote/signature splitting
                except Quarantine:
                    quarantined += 1
                times.append(time.perf_counter() - start)
        spent = sum(times)
        times.sort()
        total_n += len(times)
        total_t += spent
        print(f"{folder.name:<30} {len(raws):>6} {quarantined // repeat:>8} "
              f"{sum(map(len, raws)) / 1e6:>7.2f} {len(times) / spent:>8.0f} "
              f"{times[int(len(times) * 0.99) - 1] * 1000:>7.1f}")
    print(f"{'ALL':<30} {int(total_n / repeat):>6} {'':>8} {'':>7} {total_n / total_t:>8.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reply-eval", action="store_true")
    parser.add_argument("--bounce-eval", action="store_true")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("-v", "--verbose", action="store_true", help="list failing cases")
    args = parser.parse_args()
    root = corpora_root()
    if not root.is_dir():
        sys.exit(f"corpora not found at {root} (set COMMGATE_CORPORA)")
    if not (args.reply_eval or args.bounce_eval):
        bench(root, args.repeat)
        return
    score = evaluation.Score()
    if args.reply_eval:
        evaluation.score_talon(root, score)
        evaluation.score_discourse(root, score)
        evaluation.score_reply_fixtures(
            Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "replies", score)
    if args.bounce_eval:
        evaluation.score_bounces(root, score)
    print("\n".join(score.lines()))
    if args.verbose:
        print("\n".join(score.failures))


if __name__ == "__main__":
    main()
