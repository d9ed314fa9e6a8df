"""Precision and recall of the shipped rules on the labelled set of fixtures/precision.py.

Each positive line and each look-alike line is scanned alone, in ASCII and in UTF-16LE, by the
real detector (YARA + validators). A positive counts as found when a finding of its category
carries its value; any other finding is a false positive. Run: ``python bench/precision.py``.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.precision import LOOKALIKES, POSITIVES
from forensics.detect.rules import load_rules
from forensics.detect.scanner import Detector

ENCODINGS = ("ascii", "utf-16-le")


def measure() -> dict[str, Counter[str]]:
    """Per category: true positives, false negatives, false positives, wrong services."""
    detector = Detector(load_rules())
    counts: dict[str, Counter[str]] = {}
    for encoding in ENCODINGS:
        for sample in POSITIVES:
            found = detector.scan(f"\n{sample.line}\n".encode(encoding))
            tally = counts.setdefault(sample.category, Counter())
            hits = [d for d in found if d.category == sample.category and d.value == sample.value]
            tally["tp" if hits else "fn"] += 1
            if hits and sample.service and hits[0].service != sample.service:
                tally["wrong_service"] += 1
            for extra in found:
                if extra not in hits:
                    counts.setdefault(extra.category, Counter())["fp"] += 1
        for line in LOOKALIKES:
            for extra in detector.scan(f"\n{line}\n".encode(encoding)):
                counts.setdefault(extra.category, Counter())["fp"] += 1
    return counts


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "n/a"


def main() -> int:
    counts = measure()
    total: Counter[str] = Counter()
    print(
        f"labelled set: {len(POSITIVES)} positives, {len(LOOKALIKES)} look-alikes, x{len(ENCODINGS)} encodings"
    )
    print(f"{'category':<16}{'TP':>5}{'FN':>5}{'FP':>5}{'precision':>11}{'recall':>8}")
    for category in sorted(counts):
        c = counts[category]
        total.update(c)
        print(
            f"{category:<16}{c['tp']:>5}{c['fn']:>5}{c['fp']:>5}"
            f"{_ratio(c['tp'], c['tp'] + c['fp']):>11}{_ratio(c['tp'], c['tp'] + c['fn']):>8}"
        )
    print(
        f"{'all':<16}{total['tp']:>5}{total['fn']:>5}{total['fp']:>5}"
        f"{_ratio(total['tp'], total['tp'] + total['fp']):>11}"
        f"{_ratio(total['tp'], total['tp'] + total['fn']):>8}"
    )
    print(f"credential findings naming the wrong service: {total['wrong_service']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
