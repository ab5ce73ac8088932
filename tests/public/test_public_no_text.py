"""Committed public-data results carry numbers, tags and indices only: never a release's text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from starter.public import ALLOWED_STRING_FIELDS, check_rows
from starter.releases.thought_anchors import read_chains

ROOT = Path(__file__).parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "thought_anchors"
COMMITTED = sorted(ROOT.glob("docs/results/*/r1-public/results.jsonl"))


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


def test_fixture_sentences_are_refused():
    chain = read_chains(FIXTURE).chains[0]
    for sentence in chain.sentences:
        with pytest.raises(ValueError, match="numbers, tags and indices only"):
            check_rows([{"kind": "sentence", "tag": sentence.text}])


@pytest.mark.parametrize("path", COMMITTED, ids=[p.parent.parent.name for p in COMMITTED])
def test_committed_rows_hold_no_text(path):
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        check_rows([row])  # strings only in label fields, no spaces, at most 64 characters
        for key, value in row.items():
            for s in _strings(value):
                assert key in ALLOWED_STRING_FIELDS
                assert not re.search(r"\s", s), f"{path}: {key}={s!r} looks like text"


def test_four_results_are_committed():
    assert {p.parent.parent.name for p in COMMITTED} >= {
        "determinism", "lucky-or-steady", "reasoning-tree", "cot-faithfulness"}
