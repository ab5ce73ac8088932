"""sitekit/pages/render.py: a question page's `ready` path and a result's manifest, from hand-built
folders (no question needs to be ready, and no site is built).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mkdocs.exceptions import PluginError

from sitekit import catalog
from sitekit.pages import render


def ready_question(tmp_path: Path) -> catalog.Question:
    starter = tmp_path / "starter" / "questions" / "determinism.py"
    starter.parent.mkdir(parents=True)
    starter.write_text('"""How deterministic are thinking models?"""\n\n'
                       'print("```")  # a fence inside the code\n')
    planned = catalog.load_research().question("determinism")
    result = tmp_path / "docs" / "results" / "determinism"
    result.mkdir(parents=True)
    (result / "summary.md").write_text("# Summary\n\nAgreement rises with K.\n\n"
                                       "## What to try next\n\n- Repeat at temperature 1.0.\n")
    data = planned.model_dump(exclude=set(catalog.IDENTITY_FIELDS)) | {"status": "ready"}
    return catalog.Question.model_validate(data, context={"root": tmp_path})


def test_ready_question_embeds_code_result_and_next_steps(tmp_path):
    q = ready_question(tmp_path)
    result = tmp_path / "docs" / "results" / q.slug
    (result / "figure.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    manifest = {"finished_at": "2026-11-26T10:00:00Z", "model": "tiny-thinker"}
    (result / "manifest.json").write_text(json.dumps(manifest))
    (result / "summary.md").write_text("# Summary\n\n## Finding\n\nAgreement rises with K.\n\n"
                                       "## What to try next\n\n- Repeat at temperature 1.0.\n")
    md = render.render_question(q, "Parent bullet.", tmp_path / "docs" / "results", tmp_path)
    assert '    ````python title="starter/questions/determinism.py"' in md, (
        "the fence must outgrow the ```")
    assert '??? example "The code: `starter/questions/determinism.py`"' in md, (
        "the code is collapsed by default")
    assert 'print("```")' in md
    assert '<figure class="mi-figure" markdown="span">' in md and "<figcaption>" in md
    assert "Result figure for" not in md, "alt text states the finding, not 'Result figure for ...'"
    assert "Agreement rises with K" in md, "without findings.json the alt text comes from the summary"
    assert md.index("## Result {") < md.index("## Why it matters"), "the result comes before the rest"
    assert "2026-11-26T10:00:00Z" in md and "`tiny-thinker`" in md
    assert "- Repeat at temperature 1.0." in md
    assert "mi-starter run determinism --preset gpu" in md


def test_ready_question_without_result_says_so(tmp_path):
    q = ready_question(tmp_path)
    md = render.render_question(q, "Parent.", tmp_path / "no-results", tmp_path)
    assert "No result committed yet" in md


def test_result_manifest_missing_keys_fails_the_build(tmp_path):
    result = tmp_path / "determinism"
    result.mkdir()
    (result / "manifest.json").write_text(json.dumps({"model": "tiny-thinker"}))
    with pytest.raises(PluginError, match=r"lacks \['finished_at'\]"):
        render.render_result("determinism", result)
