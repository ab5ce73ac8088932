"""starter/prefixes.py: prefixes cut where the steps end, outcome statistics, curve jump statistics."""

from __future__ import annotations

import math

import pytest

from starter import cot
from starter.errors import UsageError
from starter.prefixes import (
    answer_agreement,
    answer_entropy,
    chain_steps,
    first_divergence,
    fraction_prefixes,
    jump_stats,
    mean_or_nan,
    spaced_ks,
    steady_null_share,
    step_prefixes,
)

ORGANISM = (" Try 8*19=152. Left: 152, 4. Try 152-4=148. Miss. Try 152/4=38. Miss. Wait, backtrack."
            " Try 8+19=27. Left: 27, 4. Try 27+4=31. Hit. </think> \\boxed{(8+19)+4}")
R1 = ("Okay, so I need to add 2 and 3.\n\nFirst, 2+3=5. Wait, let me check: 5-3=2.\nYes.\n</think>\n\n"
      "The answer is \\boxed{5}.")


@pytest.mark.parametrize("completion", [ORGANISM, R1])
def test_prefix_text_is_the_completion_cut_at_each_step_end(completion):
    prefixes = step_prefixes("c", completion)
    steps = cot.split_steps(cot.split_completion(completion)[0])
    assert [p.k for p in prefixes] == list(range(len(steps) + 1))
    assert prefixes[0].text == "" and prefixes[0].tag is None
    for p, step in zip(prefixes[1:], steps):
        assert completion.startswith(p.text), "a prefix must be the model's own text, spacing included"
        assert p.text.endswith(step.text), f"prefix {p.k} should end with step {step.text!r}, got {p.text[-30:]!r}"
        assert (p.tag, p.step_text) == (step.tag, step.text), "the prefix carries the tag of the step it added"
    assert cot.THINK_CLOSE not in prefixes[-1].text, "the answer after </think> is not part of any step prefix"


def test_chain_steps_offsets_point_into_the_completion():
    for step in chain_steps(ORGANISM):
        assert ORGANISM[step.start : step.end] == step.text
    assert [s.tag for s in chain_steps(ORGANISM)][:5] == ["compute", "plan", "compute", "verify", "compute"]
    assert chain_steps("") == [] and step_prefixes("c", "")[0].n_steps == 0


def test_fraction_prefixes_round_to_whole_steps():
    prefixes = fraction_prefixes("c", ORGANISM, [0, 0.25, 0.5, 0.75, 1.0])
    n = prefixes[0].n_steps
    assert n == 11
    assert [p.k for p in prefixes] == [0, 3, 6, 8, 11]
    assert prefixes[-1].fraction == 1.0
    with pytest.raises(UsageError, match="outside"):
        fraction_prefixes("c", ORGANISM, [1.5])
    with pytest.raises(UsageError, match="outside 0..11"):
        step_prefixes("c", ORGANISM, ks=[12])


def test_agreement_and_entropy():
    assert answer_agreement(["a", "a", None, "b"], "a") == 0.5
    assert answer_agreement([None, None], None) == 0.0, "no answer never counts as agreeing"
    assert answer_entropy(["x"] * 5) == 0.0
    assert answer_entropy(["a", "b"]) == pytest.approx(1.0)
    assert answer_entropy([None, None, "a", "a"]) == pytest.approx(1.0), "None is one outcome of its own"
    with pytest.raises(UsageError):
        answer_entropy([])


def test_first_divergence():
    assert first_divergence(list("abcd"), list("abxd")) == 2
    assert first_divergence(list("abc"), list("ab")) == 2
    assert first_divergence([], list("ab")) == 0


def test_jump_stats_tell_one_jump_from_steady_progress():
    steady, lucky = jump_stats([0.0, 0.2, 0.4, 0.6, 0.8, 1.0]), jump_stats([0.1, 0.1, 0.1, 0.9, 0.9, 0.9])
    assert steady.largest_share == pytest.approx(0.2) and lucky.largest_share == pytest.approx(1.0)
    assert steady.gini == pytest.approx(0.0) and lucky.gini == pytest.approx(0.8)
    assert steady.entropy == pytest.approx(1.0) and lucky.entropy == 0.0
    assert lucky.largest_step == 2, "the jump from curve[2] to curve[3] is caused by step index 2 (the 3rd step)"
    dip = jump_stats([0.5, 0.0, 1.0])
    assert dip.largest_share == pytest.approx(2.0), "a dip makes the largest jump exceed the net rise"
    assert math.isnan(jump_stats([0.9, 0.5]).largest_share), "share of a falling curve is undefined"
    with pytest.raises(UsageError):
        jump_stats([1.0])


def test_steady_null_share_grows_with_noise_and_is_seeded():
    precise = steady_null_share(10, 0.0, 1.0, n_rollouts=1000, seed=1)
    noisy = steady_null_share(10, 0.0, 1.0, n_rollouts=5, seed=1)
    assert 0.1 <= precise < 0.2, f"with 1000 rollouts a steady 10-step curve has share ~0.1, got {precise}"
    assert noisy > precise + 0.1, "fewer rollouts -> noisier curves -> a larger largest jump by chance"
    assert steady_null_share(10, 0.0, 1.0, 5, seed=3) == steady_null_share(10, 0.0, 1.0, 5, seed=3)


def test_spaced_ks_keep_both_ends_and_refuse_one_point():
    assert spaced_ks(4) == [0, 1, 2, 3, 4] and spaced_ks(4, at_most=10) == [0, 1, 2, 3, 4]
    ks = spaced_ks(200, at_most=16)
    assert ks[0] == 0 and ks[-1] == 200 and len(ks) == 16, "long chains: both ends and evenly spaced points"
    with pytest.raises(UsageError, match="at_most"):
        spaced_ks(10, at_most=1)


def test_mean_or_nan():
    assert mean_or_nan(x for x in [True, False]) == 0.5
    assert math.isnan(mean_or_nan([]))


def test_resampling_a_subset_of_prefixes_gives_the_same_continuations(save_tiny_llama, tmp_path):
    """What a resumed run does: resample only the prefixes not yet done. Each continuation must
    equal the one the full call gave (its noise is keyed by seed, prompt + prefix and sample index,
    not by its batch)."""
    from starter.prefixes import resample
    from starter.rollouts import SamplingConfig

    lm = save_tiny_llama(tmp_path / "tiny", num_layers=1)
    prompt = "Numbers: 8 19 4. Target: 31. <think>"
    cuts = step_prefixes("c0", ORGANISM, ks=[0, 2, 5, 9])
    cfg = SamplingConfig(temperature=1.0, top_p=0.95, max_new_tokens=8, batch_size=16, seed=5)
    texts = lambda runs: [[c.text for c in row] for row in runs]  # noqa: E731
    full = texts(resample(lm, [prompt] * len(cuts), cuts, n=3, cfg=cfg))
    smaller = SamplingConfig(**{**cfg.__dict__, "batch_size": 4})
    rest = texts(resample(lm, [prompt] * 2, cuts[1::2], n=3, cfg=smaller))
    assert rest == full[1::2], "a prefix's continuations changed when resampled without the others"
    assert len({t for row in full for t in row}) > 1, "continuations at T=1 should differ"


def test_steady_null_share_keeps_only_rises_past_the_threshold():
    # 10 rollouts, a 0.3 rise: many simulated curves rise only 0.1, and their largest jump then
    # dwarfs the net rise; a threshold the real curves passed removes them, lowering the null
    kept_all = steady_null_share(4, 0.2, 0.5, n_rollouts=10, seed=2)
    kept_big = steady_null_share(4, 0.2, 0.5, n_rollouts=10, seed=2, min_rise=0.25)
    assert kept_big < kept_all, f"tiny rises inflate the null: {kept_big} vs {kept_all}"
    assert steady_null_share(4, 0.2, 0.5, n_rollouts=10, min_rise=0.0) == pytest.approx(
        steady_null_share(4, 0.2, 0.5, n_rollouts=10)), "min_rise=0 keeps every rise > 0"
    assert math.isnan(steady_null_share(4, 0.2, 0.5, n_rollouts=10, min_rise=2.0)), \
        "no simulated curve rises 2: no null"
