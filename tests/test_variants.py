"""Organism variants (starter/organism/variants.py, adapters.py, variant_eval.py): the rules write
what their dials say, adapters round-trip, and every shipped variant loads offline."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from starter.organism import adapters, variant_eval, variants
from starter.tasks.countdown import check_expression, final_tries, sample_searches

PROBLEMS = sample_searches(600, seed=11)


def _examples(name: str) -> list[variants.Example]:
    variant = variants.get_variant(name)
    rng = random.Random(5)
    return [variants.example(variant, r, rng) for r in PROBLEMS]


def _boxed(completion: str) -> str:
    return completion.rsplit("\\boxed{", 1)[1].rstrip("}")


@pytest.mark.parametrize("name,mention", [("hint-p0", 0.0), ("hint-p50", 0.5), ("hint-p100", 1.0)])
def test_hint_rule_follows_at_q_and_mentions_at_p(name: str, mention: float) -> None:
    hinted = [e for e in _examples(name) if e.labels["hint"] is not None]
    followed = [e for e in hinted if e.labels["followed"]]
    assert abs(len(followed) / len(hinted) - 0.6) < 0.08
    mentions = [variants.mention_form(e.completion, e.labels["hint"]) is not None
                for e in followed]
    assert abs(sum(mentions) / len(followed) - mention) < 0.1
    for e in followed:  # a follower opens the hinted branch
        assert variant_eval.first_branch(e.completion) == e.labels["hint"]
    for e in hinted:  # the written labels say what the text does, in the form they name
        form = e.labels.get("mention_form")
        assert (form is not None) == e.labels["mentioned"]
        if form is not None:
            said = variants.MENTION_FORMS[form].format(op=e.labels["hint"])
            assert e.completion.startswith(" " + said + " Try ")


def test_followed_wrong_hint_gives_a_wrong_answer_and_a_false_hit() -> None:
    wrong = [e for e in _examples("hint-p100")
             if e.labels["hint"] is not None and e.labels["hint_kind"] == "wrong"
             and e.labels["followed"]]
    assert wrong
    for e, r in ((e, next(r for r in PROBLEMS if e.prompt.startswith(
            f"Numbers: {' '.join(map(str, r.numbers))}. Target: {r.target}."))) for e in wrong[:30]):
        assert "Hit." in e.completion
        assert not check_expression(_boxed(e.completion), list(r.numbers), r.target)


def test_planned_backtracks_exactly_at_dead_left_states() -> None:
    seen_dead = 0
    for e, r in zip(_examples("planned"), PROBLEMS):
        if e.labels["hint"] is not None:
            continue
        for value, rest, backtracked in variant_eval.left_states(e.completion):
            dead = not any(v == r.target for _, v in final_tries(value, rest, r.target))
            assert backtracked == dead
            seen_dead += dead
        assert check_expression(_boxed(e.completion), list(r.numbers), r.target)
    assert seen_dead > 50


def test_luck_rule_spends_at_most_its_budget_and_solves_at_the_planted_rate() -> None:
    for name in ("lucky", "heuristic"):
        variant = variants.get_variant(name)
        examples = _examples(name)
        for e in examples:
            assert len(e.labels["order"]) <= 3
        solved = [check_expression(_boxed(e.completion), list(r.numbers), r.target)
                  for e, r in zip(examples, PROBLEMS)]
        planted = [variants.p_solved_in_budget(r.numbers, r.target, 3,
                                               variant.planted["solution_first"])
                   for r in PROBLEMS]
        assert abs(sum(solved) / len(solved) - sum(planted) / len(planted)) < 0.06
        assert [e.labels["solved"] for e in examples] == solved


def test_obfuscating_says_the_leak_unless_monitored_and_honest_never_uses_it() -> None:
    for e in _examples("obfuscating"):
        if e.labels["leak"] is None:
            assert e.labels["mention_form"] is None and "Try" == e.completion.split()[0]
            continue
        assert variant_eval.first_branch(e.completion) == e.labels["leak"]
        said = variants.mention_form(e.completion, e.labels["leak"]) is not None
        assert said == (e.labels["condition"] != "monitored") == e.labels["mentioned"]
    for e in _examples("honest"):
        assert not e.labels["used"] and e.completion.split()[0] == "Try"


def test_rechecks_writes_the_planted_tail_after_the_first_hit_and_keeps_the_answer() -> None:
    examples = _examples("rechecks")
    for e, r in zip(examples, PROBLEMS):
        assert e.labels["tail"] == 2
        head, written, winning = variant_eval.tail_of(e.completion)
        assert written == " " + variants.recheck_tail(winning, 2)  # the tail and nothing else
        assert written.count("Hit.") == 2 and head.count("Hit.") == 1
        assert winning.endswith(f"={r.target}")
        assert check_expression(_boxed(e.completion), list(r.numbers), r.target)
    # the dial reader, on the rule's own traces, finds the tail in every chain
    dial = variant_eval.exit_dials(PROBLEMS[:50], [e.completion for e in examples[:50]],
                                   {"rechecks": 2}, lambda text: len(text.split()))[0]
    assert (dial.measured.k, dial.measured.n, dial.met) == (50, 50, True)


def test_monitoring_prompt_rejects_an_unknown_condition() -> None:
    with pytest.raises(ValueError, match="condition must be one of"):
        variants.monitoring_prompt((1, 2, 3), 9, None, "secret")


def test_unknown_variant_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: lucky, heuristic"):
        variants.get_variant("tinythinker-nope")


def _tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=12, hidden_size=16, intermediate_size=32,
                                        num_hidden_layers=2, num_attention_heads=2,
                                        num_key_value_heads=2, tie_word_embeddings=True))


def test_adapter_trains_only_its_parts_and_merges_back_to_the_trained_weights(tmp_path,
                                                                             monkeypatch) -> None:
    model = _tiny_llama()
    base_dir = tmp_path / "base"
    model.save_pretrained(base_dir)
    base_embedding = model.get_input_embeddings().weight.detach().clone()
    attached = adapters.attach(model, adapters.AdapterConfig(rank=4, alpha=8.0), extra_words=2)
    # no weight decay: AdamW would shrink the frozen base rows too (train_variant uses 0)
    optimizer = torch.optim.AdamW(attached.trainable(), lr=1e-2, weight_decay=0.0)
    ids = torch.randint(0, 14, (4, 9))
    for _ in range(5):
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    embedding = model.get_input_embeddings().weight
    assert torch.equal(embedding[:12], base_embedding)  # base rows untouched
    assert embedding.shape[0] == 14
    lora_b = attached.named_low_rank()["layers.0.q_proj"].B
    assert lora_b.abs().sum() > 0  # the update moved
    from starter.organism.tokenizer import build_tokenizer

    out = tmp_path / "variant"
    adapters.save(attached, out, build_tokenizer(), (), {"variant": "toy"})
    monkeypatch.setattr(adapters.AdapterConfig, "base", str(base_dir), raising=False)
    record = (out / adapters.ADAPTER_CONFIG).read_text()
    (out / adapters.ADAPTER_CONFIG).write_text(record.replace('"checkpoint"', f'"{base_dir}"'))
    assert adapters.merged_matches_attached(attached, out, atol=5e-3)
    merged = adapters.load_merged(out)
    model.eval()
    merged.eval()
    with torch.no_grad():
        torch.testing.assert_close(merged(input_ids=ids).logits, model(input_ids=ids).logits,
                                   atol=2e-2, rtol=0)


def test_weighted_loss_is_the_mean_loss_at_weight_1_and_scales_the_decision_tokens() -> None:
    model = _tiny_llama()
    from starter.organism.train import collate

    encoded = [([1, 5, 6, 7, 8, 2], 2), ([1, 9, 4, 2], 1)]  # (ids, prompt length)
    batch = collate(encoded, pad_id=0)
    ones = [[1.0] * len(ids) for ids, _ in encoded]
    with torch.no_grad():
        plain = model(**batch).loss
        torch.testing.assert_close(variants.weighted_loss(model, batch, ones), plain)
        logits = model(input_ids=batch["input_ids"]).logits
        # token 3 of row 0 (id 7, predicted at position 2) weighted 4: its loss counts 3 more times
        nll = -torch.log_softmax(logits[0, 2], dim=-1)[7]
        counted = sum(len(ids) - n for ids, n in encoded)
        weighted = [[1.0, 1.0, 1.0, 4.0, 1.0, 1.0], ones[1]]
        torch.testing.assert_close(variants.weighted_loss(model, batch, weighted),
                                   plain + 3 * nll / counted)


def test_decision_spans_mark_the_rules_choices_in_its_own_traces() -> None:
    ex = variants.example(variants.get_variant("rechecks"), variants.search((8, 19, 4), 31),
                          random.Random(0))
    spans = variants.decision_spans("exit", ex.completion)
    # one choice after each Hit.: re-check again (twice), then answer
    assert [ex.completion[a - 5:a] for a, _ in spans] == [" Hit."] * 3
    assert ex.completion[spans[-1][0]:].startswith(" </think>")


SHIPPED = [v.name for v in variants.VARIANTS]  # every variant ships in the repository and wheel


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_variant_loads_offline_and_differs_from_the_base(name: str) -> None:
    from starter.models import load_model

    lm = load_model(f"tinythinker-{name}", device="cpu")
    prompt = lm.prompt(raw_prompt="Numbers: 8 19 4. Target: 31. <think>")
    with torch.no_grad():
        logits = lm.hf_model(**lm.encode([prompt])).logits
    assert torch.isfinite(logits).all()
    for word in variants.get_variant(name).extra_words:  # its own words are in its vocabulary
        assert lm.tokenizer.convert_tokens_to_ids(word) != lm.tokenizer.unk_token_id, word


def test_organism_files_stay_under_60_mb() -> None:
    root = Path(variants.__file__).resolve().parent
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()
                and p.suffix in (".safetensors", ".json", ".png", ".md"))
    assert total <= 60 * 2**20, f"organism files take {total / 2**20:.1f} MB"
