"""The synthetic share α (issue 32): validation on mixtures of known α, and the time of one
estimate on 4,000 OUTFOX documents.

Validation: references from one part of a corpus (half fit, half held out), targets built from
documents of another part with α in {0, .1, .25, .5, .75, 1}, 20 seeds; per α the mean estimate,
the mean absolute error and the share of 95% intervals holding the truth. OUTFOX: references
from its `valid` split (500 human, 500 of the target generator), 200-document targets from its
`test` split, for each of its three generators; ChatGPT student essays: references from essays
0-44, 40-document targets from essays 45-89, for GPT-3.5 and GPT-4.

Usage: python benchmarks/bench_mixture.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import ESSAYS, OUTFOX  # noqa: E402
from test_mixture import _docs, _validate, outfox_validation  # noqa: E402

from toedit_stats.analyzers.mixture import MixtureAnalyzer  # noqa: E402
from toedit_stats.corpus import MemoryCorpus  # noqa: E402


def table(name: str, rows) -> None:
    for a in sorted({r[0] for r in rows}):
        r = [x for x in rows if x[0] == a]
        print(
            f"{name:<34}{a:>6.2f}{np.mean([x[2] for x in r]):>9.3f}{np.mean([abs(x[2] - a) for x in r]):>8.3f}"
            f"{np.mean([x[4] - x[3] for x in r]):>8.3f}{np.mean([x[3] <= a <= x[4] for x in r]):>9.0%}"
        )
    print(f"{name:<34}{'all':>6}{'':>9}{np.mean([abs(x[2] - x[0]) for x in rows]):>8.3f}")


def main() -> None:
    print(f"{'corpus, generator':<34}{'α':>6}{'mean':>9}{'MAE':>8}{'width':>8}{'covered':>9}")
    for gen in ("gpt-3.5-turbo-0613", "text-davinci-003", "flan-t5-xxl"):
        table(f"OUTFOX, {gen}", outfox_validation(gen))
    first = {f"essay-{i:02d}" for i in range(45)}

    def part(d, fit):
        return [x for x in d if ("-".join(x.id.split("-")[:2]) in first) == fit]

    human = _docs(ESSAYS, label="human")
    for src in ("chatgpt-3", "chatgpt-4"):
        gen = _docs(ESSAYS, source=src)
        rows = _validate(part(human, True), part(gen, True), part(human, False), part(gen, False), 40, 20)
        table(f"ChatGPT essays, {src}", rows)

    docs = _docs(OUTFOX)
    h = MemoryCorpus([d for d in docs if d.id.endswith("human")], name="human")
    s = MemoryCorpus([d for d in docs if d.id.endswith("chatgpt")], name="chatgpt")
    t = MemoryCorpus(docs, name="all")
    t0 = time.process_time()
    r = MixtureAnalyzer().analyze([h, s, t])
    print(
        f"\nMixtureAnalyzer on 1,000 + 1,000 references and a 4,000-document target, 1,000 resamples: "
        f"{time.process_time() - t0:.1f} CPU-s (α of the target {r.estimates[2].alpha:.3f})"
    )


if __name__ == "__main__":
    main()
