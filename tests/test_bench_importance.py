"""scripts/bench_importance.py's organism setting: chains of tinythinker-lucky's rule with the
anchor from its labels, the rule's planted curve, and the pilot file the bench simulates from.

Everything here is pure (no model is loaded): the pilot file is written by the test in the layout
`--measure-organism` writes, with counts chosen so every rate and rank is known by hand.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from starter.errors import UsageError


@pytest.fixture(scope="module")
def bench():
    path = Path(__file__).parents[1] / "scripts" / "bench_importance.py"
    spec = importlib.util.spec_from_file_location("bench_importance", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_importance"] = module  # its dataclasses look it up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_importance", None)


def test_opened_steps_follow_the_labels_order(bench):
    steps = ["Try 8*19=152.", "Left: 152, 4.", "Try 152-4=148.", "Miss.", "Wait, backtrack.",
             "Try 8+19=27.", "Left: 27, 4.", "Try 27+4=31.", "Hit."]
    assert bench.opened_steps(steps, ["8*19", "8+19"]) == (1, 6)
    # a final try with the same text is not an opening: no "Left:" after it
    assert bench.opened_steps(["Try 1+2=3.", "Miss.", "Try 1+2=3.", "Left: 3, 4."],
                              ["1+2"]) == (3,)


def test_organism_chains_take_the_anchor_from_the_rule(bench):
    chains = bench.organism_chains(3, seed=3)
    first = chains[0]
    # the rule's chain: dead 17+10, dead 17*10, then 16-10 reaches 23 (6+17)
    assert (first.numbers, first.target, first.n_steps) == ((17, 10, 16), 23, 14)
    assert first.opened == (1, 6, 11) and first.anchor == 11
    assert [t.split(".")[0] for t in first.completion.split(" Try ")[1:]] == [
        "17+10=27", "27-16=11", "17*10=170", "170-16=154", "16-10=6", "6+17=23"]
    assert all(len(c.opened) == 3 and c.anchor == c.opened[-1] for c in chains)


def test_rule_curve_by_hand(bench):
    chain = bench.organism_chains(1, seed=3)[0]  # 9 branches, 3 of them reach the target
    curve = bench.rule_curve(chain)
    assert len(curve) == chain.n_steps + 1
    # budget 3 before any step: 1 - (6/9)(5/8)(4/7); one dead opened: 1 - (5/8)(4/7); two: 3/7
    assert curve[0] == pytest.approx(1 - 6 / 9 * 5 / 8 * 4 / 7)
    assert curve[1:6] == pytest.approx([1 - 5 / 8 * 4 / 7] * 5)
    assert curve[6:11] == pytest.approx([3 / 7] * 5)
    assert curve[11:] == (1.0, 1.0, 1.0, 1.0)
    steps = bench.rule_chains(1, seed=3)[0]
    assert bench.ranked_steps(np.diff(steps.rates)) == (11, 6, 1)  # +4/7, -3/14, -5/42


def write_pilot(path: Path) -> None:
    row = {"name": "2,3,4->20", "numbers": [2, 3, 4], "target": 20, "n_steps": 5,
           "opened": [1, 3, 5], "anchor": 5, "rule": [0.5, 0.4, 0.4, 0.2, 0.2, 1.0],
           "finished": [10, 10, 10, 10, 5, 10], "correct": [5, 3, 3, 1, 1, 10],
           "mean_new_tokens": [60.0, 50.0, 40.0, 30.0, 20.0, 6.0], "seconds": 12.0}
    dead = {**row, "name": "no-finish", "finished": [10, 0, 10, 10, 10, 10]}
    pilot = {"variant": "tinythinker-lucky", "rollouts_per_prefix": 10, "seed": 0,
             "sampling": {}, "tries": 3, "chains": [row, dead]}
    path.write_text(json.dumps(pilot))


def test_read_organism_turns_counts_into_rates(bench, tmp_path):
    write_pilot(tmp_path / "pilot.json")
    (chain,) = bench.read_organism(tmp_path / "pilot.json")  # a prefix with no finished: dropped
    assert chain.name == "organism/2,3,4->20"
    assert chain.rates == (0.5, 0.3, 0.3, 0.1, 0.2, 1.0)
    assert chain.planted == (1, 3, 5) and chain.anchor == 5
    assert chain.seconds_per_rollout == pytest.approx(12.0 / (10 * 6))
    # importances -0.2, 0, -0.2, +0.1, +0.8: the anchor first, then the two falls
    assert bench.ranked_steps(np.diff(chain.rates)) == (5, 1, 3)
    assert bench.curve_check([chain]) == ("measured curves: top 3 = the planted steps in 1 of 1 "
                                          "chains; the anchor first in 1 of 1")


def test_the_bench_reports_the_organism_group(bench, tmp_path, capsys):
    write_pilot(tmp_path / "pilot.json")
    args = ["--planted", "0", "--organism", str(tmp_path / "pilot.json"), "--organism-reps", "3"]
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert "organism chains (tinythinker-lucky, simulated at measured rates): 1 chains x 3" in out
    assert "| the planted anchor ranked first |" in out
    assert "organism sampling time at the pilot's measured s per rollout" in out
    assert "measured new tokens per rollout" in out
    assert "rule's planted curve" not in out  # only with --organism-rule
    assert bench.main(args + ["--organism-rule", "--organism-chains", "1"]) == 0
    assert "organism chains at the rule's planted curve (no model): 1 chains x 3" in (
        capsys.readouterr().out)


def test_bad_organism_arguments_are_one_line(bench, tmp_path, capsys):
    assert bench.main(["--organism", str(tmp_path / "missing.json")]) == 2
    assert "no such file; measure it with --measure-organism" in capsys.readouterr().err
    assert bench.main(["--measure-organism", "--organism-chains", "0"]) == 2
    assert "--organism-chains 0" in capsys.readouterr().err
    # a pilot file of other settings is refused before any model loads, and left as it was
    write_pilot(tmp_path / "pilot.json")
    before = (tmp_path / "pilot.json").read_text()
    with pytest.raises(UsageError, match="holds a pilot with other settings"):
        bench.measure_organism([], n=40, seed=0, out=tmp_path / "pilot.json")
    assert (tmp_path / "pilot.json").read_text() == before


def test_a_measured_pilot_is_not_sampled_again(bench, tmp_path, capsys):
    chain = bench.organism_chains(1, seed=0)[0]
    header = {"variant": "tinythinker-lucky", "rollouts_per_prefix": 40, "seed": 0,
              "sampling": {"temperature": 1.0, "top_p": 1.0, "max_new_tokens": 220,
                           "batch_size": 256}, "tries": 3}
    (tmp_path / "pilot.json").write_text(json.dumps({**header, "chains": [{"name": chain.name}]}))
    bench.measure_organism([chain], n=40, seed=0, out=tmp_path / "pilot.json")  # loads no model
    assert "all 1 chains are already measured" in capsys.readouterr().out
