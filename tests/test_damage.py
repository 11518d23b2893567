"""Edit damage classes and --protect (issue 18)."""

from __future__ import annotations

import re

import pytest

from toedit_stats import read_corpus
from toedit_stats.editing import EditConfig, edit
from toedit_stats.editing.toedit import DAMAGE_CLASSES, damage_class, in_name
from toedit_stats.errors import ConfigError

TEXT = "In the early 1970s, Merle went to Walmart. Prices rose 3.5% in 1,000 stores.\nThe end"


def _at(word: str, nth: int = 0) -> tuple[int, int]:
    i = -1
    for _ in range(nth + 1):
        i = TEXT.index(word, i + 1)
    return i, i + len(word)


@pytest.mark.parametrize(
    ("old", "new", "where", "expected"),
    [
        ("70", "72", "70", "number"),  # "1970s" -> "1972s"
        ("s", "2", "s,", "number"),  # a digit inserted
        (" Merle", " Merley", " Merle", "name"),
        ("art", "Art", "art", "inside_word"),  # "Walmart" -> "WalmArt"
        (",", " immigration", ",", "punctuation"),  # "1970s," -> "1970s immigration"
        (" went", " goes", " went", "word"),
        (" the", "", " the", "word"),  # a deletion
        ("The", "A", "The", "word"),  # capitalised, but starts a sentence: not a name
        (" Prices", " Costs", " Prices", "word"),  # after ". ": starts a sentence
        (" stores", " shops", " stores", "word"),
    ],
)
def test_damage_classes_on_hand_made_edits(old, new, where, expected):
    s, e = _at(where)
    e = s + len(old)
    assert TEXT[s:e] == old
    assert damage_class(TEXT, s, e, old, new) == expected


def test_name_heuristic():
    assert in_name(TEXT, *_at("Walmart")) and in_name(TEXT, *_at("Merle"))
    assert (
        not in_name(TEXT, *_at("In")) and not in_name(TEXT, *_at("Prices")) and not in_name(TEXT, *_at("The"))
    )
    assert not in_name(TEXT, *_at("went"))


def test_protect_is_validated_and_normalised():
    assert EditConfig(protect="numbers, names,numbers").protect == "names,numbers"
    assert EditConfig(protect="numbers").protected == frozenset({"numbers"})
    with pytest.raises(ConfigError, match="protect must be"):
        EditConfig(protect="dates")


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d(?:[\d,.:/-]*\d)?", text)


@pytest.mark.parametrize("path_fixture", ["essays_path", "outfox_path"])
def test_protect_numbers_never_changes_a_digit_fake(request, path_fixture):
    """On both shared corpora, aggressive settings (p = 0.3, the original excluded, deletions on):
    unprotected, numbers change; protected, every number string is intact, and the damage counts
    add up to the applied edits."""
    docs = [d for d in read_corpus(request.getfixturevalue(path_fixture)) if re.search(r"\d", d.text)][:60]
    assert len(docs) >= 10
    base = dict(p=0.3, k=8, exclude_original=True, strategy="low_drop_up_revise", drop_below=0.01)
    loose = list(edit(docs, "fake", EditConfig(**base)))
    assert any(_numbers(e.doc.text) != _numbers(e.original) for e in loose)  # the test can fail
    assert sum(e.audit.damage["number"] for e in loose) > 0
    safe = list(edit(docs, "fake", EditConfig(**base, protect="numbers")))
    for e in safe:
        assert _numbers(e.doc.text) == _numbers(e.original), e.doc.id
        assert e.audit.damage["number"] == 0
        assert sum(e.audit.damage.values()) == e.audit.changed + e.audit.deleted
    assert sum(e.audit.protected for e in safe) > 0
    assert sum(e.audit.changed for e in safe) > 0  # everything else is still edited


def test_protection_changes_nothing_at_other_positions(essays_path):
    """One uniform per selected position is drawn whether or not it is protected: the edits at
    unprotected positions with no digit candidate are the same as without protection."""
    docs = list(read_corpus(essays_path))[:30]
    cfg = EditConfig(p=0.3, k=4, exclude_original=True)
    a = list(edit(docs, "fake", cfg, audit_positions=True))
    b = list(
        edit(
            docs, "fake", EditConfig(p=0.3, k=4, exclude_original=True, protect="names"), audit_positions=True
        )
    )
    for x, y in zip(a, b):
        kept = {tuple(p[1]): p[3] for p in y.audits[0].positions}
        for pos in x.audits[0].positions:
            (s, e), new = pos[1], pos[3]
            if in_name(x.original, s, e):
                assert (s, e) not in kept
            else:
                assert kept.get((s, e)) == new


def test_damage_totals_in_the_job_and_cli(tmp_path, sample_synthetic):
    from click.testing import CliRunner

    from toedit_stats.cli import main

    out = tmp_path / "e.jsonl"
    r = CliRunner().invoke(
        main, ["edit", str(sample_synthetic), "-o", str(out), "--model", "fake", "--protect", "numbers,names"]
    )
    assert r.exit_code == 0, r.output
    assert "edits by kind: number 0, inside word" in r.output and "protected" in r.output
    import json

    manifest = json.loads((tmp_path / "e.jsonl.manifest.json").read_text())
    t = manifest["totals"]
    assert set(t["damage"]) == set(DAMAGE_CLASSES)
    assert sum(t["damage"].values()) == t["changed"] + t["deleted"] and t["damage"]["number"] == 0
    assert manifest["config"]["edit"]["protect"] == "names,numbers"


@pytest.mark.model
def test_protect_numbers_with_the_real_model(essays_path, lm):
    """SmolLM2 at p = 0.9 with the original excluded (many edits) on essays that contain digits."""
    docs = [d for d in read_corpus(essays_path) if re.search(r"\d", d.text)][:12]
    cfg = dict(p=0.9, k=8, exclude_original=True)
    loose = list(edit(docs, lm, EditConfig(**cfg)))
    safe = list(edit(docs, lm, EditConfig(**cfg, protect="numbers,names")))
    assert sum(e.audit.damage["number"] for e in loose) > 0
    for e in safe:
        assert _numbers(e.doc.text) == _numbers(e.original)
        assert e.audit.damage["number"] == 0 and e.audit.damage["name"] == 0
