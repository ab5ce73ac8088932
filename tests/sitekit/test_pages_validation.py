"""sitekit/pages/validation.py and the catalog's `validation` field: a question page's "Does the
method work?" section, from hand-built validation.json files (one block, several blocks), the line
shown without one, and the schema refusing a bad entry. No site is built.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from mkdocs.exceptions import PluginError

from sitekit import catalog
from sitekit.pages import i18n, render, validation

SLUG = "cot-probing"  # a real question; its catalog entry is copied and given sentences
BASE = {"variant": "tinythinker", "quantity": "probe gain over text", "planted": None,
        "measured": 0.02, "ci": [-0.01, 0.05], "n": 40, "recovered": True,
        "why": "ordered as planted", "learned": None}
PLANNED = {"variant": "tinythinker-planned", "quantity": "probe gain over text", "planted": None,
           "measured": 0.11, "ci": [0.06, 0.16], "n": 40, "recovered": True,
           "why": "ordered as planted", "learned": 0.33}
HINT = {"variant": "tinythinker-hint-p50", "quantity": "mention rate", "planted": 0.5,
        "measured": 0.2, "ci": [0.1, 0.3], "n": 38, "recovered": False,
        "why": "the interval misses the planted 0.50", "learned": 0.21}
SINGLE = {"starter": SLUG, "preset": "cpu", "quantity": "probe gain over text",
          "meaning": "A probe that gains more where the model must compute the property reads "
                     "that computation.", "recovered": True, "arms": [BASE, PLANNED]}
SEVERAL = {"starter": SLUG, "preset": "cpu", "recovered": False, "validations": [
    {"quantity": "probe gain over text", "meaning": "Gain means computation.",
     "recovered": True, "arms": [BASE, PLANNED]},
    {"quantity": "mention rate", "meaning": "Mentions recover p.", "recovered": False,
     "arms": [{**HINT, "variant": "tinythinker-planned"}]},
]}
SENTENCES = [{"variant": "tinythinker-planned",
              "sentence": "Recovered: the probe gains more on the planned variant, so beating the "
                          "text baselines on R1-distill is some evidence of a computed latent."}]


def commit(root: Path, record: object, figure: bool = True) -> Path:
    """docs/results/<SLUG>/validation/ under `root`, as `mi-starter validate --out` writes it."""
    folder = root / "docs" / "results" / SLUG / "validation"
    folder.mkdir(parents=True)
    (folder / "validation.json").write_text(json.dumps(record, indent=1))
    if figure:
        (folder / "figure.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return folder


def question(root: Path, sentences: list[dict] | None = None) -> catalog.Question:
    """The real catalog entry of SLUG, planned (so no starter or result is needed under root)."""
    known = catalog.load_research().question(SLUG)
    data = known.model_dump(exclude={*catalog.IDENTITY_FIELDS, "validation"})
    data |= {"status": "planned", "validation": sentences or []}
    return catalog.Question.model_validate(data, context={"root": root})


def section(q: catalog.Question, root: Path, ed: i18n.Edition = i18n.EN) -> str:
    lines = validation.render_section(q, root / "docs" / "results", root, ed.words,
                                      ed.fallback_note())
    return "\n".join(lines)


def test_single_block_shows_verdict_figure_table_and_one_sentence_per_variant(tmp_path):
    commit(tmp_path, SINGLE)
    md = section(question(tmp_path, SENTENCES), tmp_path)
    assert md.startswith("## Does the method work? { #validation }")
    assert "**The method passes**" in md and "(preset `cpu`)" in md
    assert "(../organism.md#variants-with-planted-truth)" in md, "links the organism's variants"
    assert ("[![Planted (x) against measured (y, 95% intervals), 1 panel: probe gain over text. "
            "Points: base, planned. Look for red points") in md
    assert "(../results/cot-probing/validation/figure.png)" in md
    assert "| Variant | Planted | Learned | Measured [95% interval] | n | Verdict |" in md
    assert "| `planned` | order only (rank 2) | 0.33 | 0.11 [0.06, 0.16] | 40 |" in md
    assert "| `base` | order only (rank 1) | — | 0.02 [-0.01, 0.05] | 40 |" in md
    assert "**Metric:** probe gain over text. A probe that gains more" in md
    planned = next(line for line in md.splitlines() if line.startswith("- `tinythinker-planned`"))
    assert "mi-verdict--supported" in planned and "evidence of a computed latent." in planned
    base = next(line for line in md.splitlines() if line.startswith("- `tinythinker` "))
    assert base.endswith(": recovered: ordered as planted."), "a generated line where none is written"
    assert "(../results/cot-probing/validation/validation.json)" in md


def test_several_blocks_get_a_table_each_and_a_failing_method_says_so(tmp_path):
    commit(tmp_path, SEVERAL)
    md = section(question(tmp_path), tmp_path)
    assert "**The method fails this validation**: 1 of 3 checks" in md
    assert md.count("| Variant | Planted |") == 2
    assert "**1. probe gain over text** " in md and "**2. mention rate** " in md
    assert "| `planned` | 0.50 | 0.21 | 0.20 [0.10, 0.30] | 38 |" in md
    planned = next(line for line in md.splitlines() if line.startswith("- `tinythinker-planned`"))
    assert "mi-verdict--refuted" in planned, "a variant fails when any of its checks fails"
    assert "not recovered (1 of 2 checks): the interval misses the planted 0.50." in planned
    assert md.count("- `tinythinker") == 2, "one line per variant, not per row"


def test_a_bare_list_of_blocks_reads_like_validations(tmp_path):
    commit(tmp_path, SEVERAL["validations"], figure=False)
    record = validation.load_record(tmp_path / "docs" / "results", SLUG)
    assert [len(block.arms) for block in record.blocks] == [2, 1]
    assert not record.recovered and record.variants() == ["tinythinker", "tinythinker-planned"]
    assert "figure.png" not in section(question(tmp_path), tmp_path), "no figure, no image link"


def test_without_validation_the_page_says_so_or_gives_the_starters_reason(tmp_path):
    md = section(question(tmp_path), tmp_path)
    assert "No planted-truth validation committed yet." in md
    assert "(../organism.md#variants-with-planted-truth)" in md
    starter = tmp_path / "starter" / "questions" / "cot_probing.py"
    starter.parent.mkdir(parents=True)
    starter.write_text('"""A starter."""\n\nNO_VALIDATION = "no variant plants a prompt effect"\n')
    md = section(question(tmp_path), tmp_path)
    assert "No planted-truth validation for this starter: no variant plants a prompt effect." in md


def test_the_section_is_on_the_page_and_chinese_edition_falls_back_visibly(tmp_path):
    commit(tmp_path, SINGLE)
    q = question(tmp_path, SENTENCES)
    md = render.render_question(q, "Parent.", tmp_path / "docs" / "results", tmp_path)
    assert md.index("## Does the method work?") < md.index("## Why it matters")
    zh = section(q, tmp_path, i18n.ZH)
    assert zh.startswith("## 方法可靠吗？") and '!!! note "尚未翻译"' in zh
    assert "**The method passes**" in zh, "the English content follows the note"


def test_a_malformed_validation_json_fails_the_build_naming_the_file(tmp_path):
    commit(tmp_path, {"starter": SLUG, "quantity": "x"})
    with pytest.raises(PluginError, match=r"validation\.json: expected a validation block"):
        section(question(tmp_path), tmp_path)


def research_file(tmp_path: Path, entry: list) -> Path:
    """research.yaml with SLUG's entry given `entry` as its `validation`."""
    data = yaml.safe_load(catalog.DATA_DIR.joinpath("research.yaml").read_text(encoding="utf-8"))
    for group in data["thinking_models"]["groups"]:
        for q in group["questions"]:
            if q["slug"] == SLUG:
                q["validation"] = entry
    path = tmp_path / "research.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(("entry", "says"), [
    ([{"variant": "tinythinker-planned"}], "validation.0.sentence: Field required"),
    ([{"variant": "planned", "sentence": "Recovered."}], "validation.0.variant: String should"),
    ([{"variant": "tinythinker-planned", "sentence": "Recovered.", "why": "x"}],
     "validation.0.why: Extra inputs are not permitted"),
    ([{"variant": "tinythinker-planned", "sentence": "Recovered without a full stop"}],
     "sentence must be one sentence ending in '.'"),
])
def test_schema_refuses_a_bad_validation_entry_with_one_line(tmp_path, entry, says):
    with pytest.raises(catalog.CatalogError) as err:
        catalog.load_research(research_file(tmp_path, entry), root=catalog.REPO_ROOT)
    problems = str(err.value).splitlines()[1:]
    assert len(problems) == 1 and says in problems[0], str(err.value)
    assert f"(entry {SLUG!r})" in problems[0], "the line names the question"


def test_sentences_need_the_committed_validation_and_its_arms(tmp_path):
    with pytest.raises(ValueError, match="no committed docs/results/cot-probing/validation/"):
        question(tmp_path, SENTENCES)
    commit(tmp_path, SINGLE)
    other = [{"variant": "tinythinker-lucky", "sentence": "Recovered."}]
    with pytest.raises(ValueError, match=r"name \['tinythinker-lucky'\], which are not arms"):
        question(tmp_path, other)
    assert question(tmp_path, SENTENCES).validation[0].variant == "tinythinker-planned"


def test_an_order_passing_only_on_point_estimates_is_called_weak(tmp_path):
    overlapping = {**SINGLE, "arms": [BASE, {**PLANNED, "ci": [0.0, 0.2]}]}
    commit(tmp_path, overlapping)
    assert "the 95% intervals overlap, so this pass is weak evidence" in section(
        question(tmp_path), tmp_path)


def test_separated_intervals_are_not_called_weak(tmp_path):
    commit(tmp_path, SINGLE)
    assert "weak evidence" not in section(question(tmp_path), tmp_path)


def test_a_record_with_the_retrained_control_shows_it_and_each_arms_difference(tmp_path):
    """validation.json from starter/validation.py with the matched-training control: a line on
    the control and a column with each arm's difference from it; a failing difference fails."""
    planned = {**PLANNED, "planted": 0.5, "measured": 0.5, "ci": [0.4, 0.6], "recovered": False,
               "difference": 0.05, "difference_ci": [-0.0914, 0.1914], "side": 1,
               "why": "interval covers 0.50, but the difference from retrained covers 0"}
    record = {**SINGLE, "recovered": False, "arms": [BASE, planned],
              "control": {"variant": "tinythinker-retrained", "measured": 0.45,
                            "ci": [0.35, 0.55], "n": 40}}
    commit(tmp_path, record)
    md = section(question(tmp_path), tmp_path)
    assert ("Matched control `retrained` (fine-tuned like the variants, 300 adapter steps like "
            "the arms, "
            "nothing planted): "
            "0.45 [0.35, 0.55], n = 40.") in md
    assert "| n | Minus control [95% interval] | Verdict |" in md
    assert "| `planned` | 0.50 | 0.33 | 0.50 [0.40, 0.60] | 40 | +0.05 [-0.09, +0.19] |" in md
    assert "| `base` | order only (rank 1) | — | 0.02 [-0.01, 0.05] | 40 | — |" in md
    assert "**The method fails this validation**: 1 of 2 checks" in md


def test_a_block_whose_arms_state_power_gets_a_power_column():
    from sitekit.pages.validation import block_table, parse_record

    arm = {"variant": "tinythinker-lucky", "planted": 0.7, "measured": 0.5, "ci": [0.4, 0.6],
           "n": 30, "recovered": True, "why": "ok", "difference": -0.4,
           "difference_ci": [-0.51, -0.29], "power": 0.94, "n_for_80": 20}
    base = {"variant": "tinythinker", "planted": 0.0, "measured": 0.1, "ci": [0.0, 0.2],
            "n": 30, "recovered": True, "why": "null", "difference": -0.8,
            "difference_ci": [-0.9, -0.7]}
    block = parse_record({"quantity": "p", "arms": [base, arm]}, "x").blocks[0]
    lines = block_table(block)
    assert lines[0].endswith("| Power | Verdict |")
    assert lines[1].count("---") == 8
    assert "| — |" in lines[2] and "| 0.94 (n for 80%: 20) |" in lines[3]
