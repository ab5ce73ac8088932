"""The frame around a run folder (issue 11): bad input is refused before any model loads, a
user's files are never overwritten, rows the config never asked for fail the run, a full disk is
one line, and Neuronpedia falls back to sample data only when it cannot be reached.

The test starter never touches its model, so `load_model` is replaced: these tests load nothing.
"""

from __future__ import annotations

import errno
import json
import os

import pytest
from matplotlib.figure import Figure

import starter.models
import starter.neuronpedia
import starter.results
from starter.errors import StarterError, UsageError
from starter.experiment import Starter, StarterConfig, execute, parse_overrides, resolve_config

PRESETS = {name: StarterConfig(model="tinythinker", device="cpu")
           for name in ("smoke", "cpu", "gpu")}
UNITS = ["a", "b", "c"]


def _run(ctx) -> None:
    for unit in ctx.store.pending(UNITS):
        ctx.store.append({"unit": unit, "score": 1.0})


def _mean(rows):
    return {"mean": sum(r["score"] for r in rows) / len(rows), "n": len(rows)}


STARTER = Starter(slug="folder-test", title="Folder test", question="Does the folder hold?",
                  presets=PRESETS, run=_run, analyse=_mean, plot=lambda rows, metrics: Figure(),
                  findings=lambda m: f"Mean score {m['mean']:.2f} over {m['n']} rows.",
                  concepts=("backtracking",))


@pytest.fixture
def no_model(monkeypatch):
    """`load_model` counts its calls instead of loading (the test starter never uses the model)."""
    calls = []
    monkeypatch.setattr(starter.models, "load_model", lambda *args, **kwargs: calls.append(args))
    return calls


def _execute(*argv: str):
    return execute(STARTER, parse_overrides(["--offline", *argv]))


def _snapshot(folder) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _unfinish(out) -> None:
    """As if the run was killed before it finished (a finished run's rows are checked against the
    record `finish` wrote: tests/test_reliability_runs.py)."""
    manifest = json.loads((out / "manifest.json").read_text())
    manifest.update(finished_at=None, results=None)
    (out / "manifest.json").write_text(json.dumps(manifest))


def _rows(out) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


# --- refused before any model loads ------------------------------------------------------------


def test_an_out_folder_with_the_users_files_is_refused_before_the_model_loads(tmp_path, no_model):
    (tmp_path / "summary.md").write_text("# my paper notes\n")
    (tmp_path / "figure.png").write_bytes(b"my figure")
    before = _snapshot(tmp_path)
    refused = r"holds files \(figure.png, summary.md\) but no manifest.json"
    with pytest.raises(UsageError, match=refused):
        _execute("--out", str(tmp_path))
    assert no_model == [], "the folder must be refused before the model loads"
    assert _snapshot(tmp_path) == before, "the user's summary.md and figure.png must stay"


@pytest.mark.parametrize("where", ["file", "below-file"])
def test_an_out_at_or_below_a_file_is_refused_before_the_model_loads(tmp_path, no_model, where):
    afile = tmp_path / "notes.txt"
    afile.write_text("mine")
    out = afile if where == "file" else afile / "run"
    with pytest.raises(UsageError, match=str(afile).replace(".", r"\.")):
        _execute("--out", str(out))
    assert no_model == [] and afile.read_text() == "mine"


@pytest.mark.parametrize("seed", ["-1", "12345678901234567890123"])
def test_a_seed_out_of_range_is_one_usage_line_before_the_model_loads(tmp_path, no_model, seed):
    with pytest.raises(UsageError) as err:
        _execute("--seed", seed, "--out", str(tmp_path / "run"))
    assert str(err.value) == (f"seed {seed} is out of range; "
                              "choose an integer with 0 <= seed < 2**63")
    assert no_model == [] and not (tmp_path / "run").exists()


def test_the_largest_seed_is_accepted():
    assert resolve_config(STARTER, parse_overrides(["--seed", str(2**63 - 1)])).seed == 2**63 - 1


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:0", "cuda:1", "mps"])
def test_every_device_form_the_resolver_offers_is_accepted_by_the_config(device):
    assert resolve_config(STARTER, parse_overrides(["--device", device])).device == device


@pytest.mark.parametrize("device", ["tpu", "cuda:", "cuda:x", "cuda:-1", "CPU"])
def test_an_unknown_device_names_what_is_allowed(device):
    with pytest.raises(UsageError, match=r"choose one of: auto, cpu, cuda, cuda:N, mps"):
        resolve_config(STARTER, parse_overrides(["--device", device]))


# --- resumed rows --------------------------------------------------------------------------------


def test_a_resume_of_our_own_run_still_works(tmp_path, no_model):
    out = _execute("--out", str(tmp_path / "run"))
    first = (out / "results.jsonl").read_text()
    assert _execute("--out", str(out)) == out
    assert (out / "results.jsonl").read_text() == first, "a finished run resumed adds nothing"
    assert "Mean score 1.00 over 3 rows." in (out / "summary.md").read_text()


def test_rows_the_config_never_asked_for_fail_the_run_before_analysis(tmp_path, no_model):
    out = _execute("--out", str(tmp_path / "run"))
    summary = (out / "summary.md").read_text()
    _unfinish(out)
    # rows of "another version" that this config never produces
    with open(out / "results.jsonl", "a") as f:
        for unit in ("z1", "z2"):
            f.write(json.dumps({"unit": unit, "score": 0.0}) + "\n")
    with pytest.raises(StarterError) as err:
        _execute("--out", str(out))
    message = str(err.value)
    assert "holds 2 row(s) this run's config never asked for (units 'z1', 'z2')" in message
    assert "\n" not in message
    assert (out / "summary.md").read_text() == summary, "a refused run must not rewrite the summary"
    assert [r["unit"] for r in _rows(out)][-2:] == ["z1", "z2"], "the rows stay on disk"


def test_latent_rows_of_an_earlier_lookup_are_kept_but_not_summarised(tmp_path, no_model):
    out = _execute("--out", str(tmp_path / "run"))
    stale = {"unit": "latent:0-old:7", "kind": "latent", "model_id": "m", "source": "0-old",
             "index": 7, "description": "from an earlier online lookup", "query": "q",
             "url": "https://x", "provenance": "live"}
    _unfinish(out)
    with open(out / "results.jsonl", "a") as f:
        f.write(json.dumps(stale) + "\n")
    _execute("--out", str(out))
    assert "from an earlier online lookup" not in (out / "summary.md").read_text()
    assert any(r["unit"] == stale["unit"] for r in _rows(out))


def test_a_full_disk_mid_run_is_one_line_and_keeps_the_rows_so_far(tmp_path, no_model, monkeypatch):
    real_write = os.write

    def full_after_two_rows(fd, data):
        if b'"unit": "c"' in bytes(data):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(starter.results.os, "write", full_after_two_rows)
    out = tmp_path / "run"
    with pytest.raises(StarterError) as err:
        _execute("--out", str(out))
    message = str(err.value)
    assert "results.jsonl (No space left on device)" in message and "\n" not in message
    monkeypatch.setattr(starter.results.os, "write", real_write)
    assert [r["unit"] for r in _rows(out) if r.get("kind") != "latent"] == ["a", "b"]
    _execute("--out", str(out))  # space freed: the same command resumes and finishes
    assert [r["unit"] for r in _rows(out) if r.get("kind") != "latent"] == ["a", "b", "c"]


# --- Neuronpedia: sample data only when it cannot be reached -------------------------------------


def _failing_online(monkeypatch, error: Exception) -> None:
    real = starter.neuronpedia.concept_latents

    def concept_latents(client, *args, **kwargs):
        if not client.offline:
            raise error
        return real(client, *args, **kwargs)

    monkeypatch.setattr(starter.neuronpedia, "concept_latents", concept_latents)
    monkeypatch.delenv("NEURONPEDIA_OFFLINE", raising=False)


def test_an_unreachable_neuronpedia_falls_back_to_samples_and_says_so(tmp_path, no_model,
                                                                        monkeypatch, capsys):
    unreachable = starter.neuronpedia.NeuronpediaUnreachable("could not connect to 127.0.0.1:9")
    _failing_online(monkeypatch, unreachable)
    monkeypatch.setenv("MI_STARTER_CACHE", str(tmp_path / "cache"))
    out = execute(STARTER, parse_overrides(["--out", str(tmp_path / "run")]))
    err_lines = [line for line in capsys.readouterr().err.splitlines() if "neuronpedia" in line]
    assert len(err_lines) == 1 and "using the shipped sample fixtures" in err_lines[0]
    assert "sample data" in (out / "summary.md").read_text()


def test_any_other_neuronpedia_error_is_not_turned_into_sample_data(tmp_path, no_model,
                                                                     monkeypatch):
    refused = StarterError("Neuronpedia refused the request (HTTP 401): bad key")
    _failing_online(monkeypatch, refused)
    monkeypatch.setenv("MI_STARTER_CACHE", str(tmp_path / "cache"))
    with pytest.raises(StarterError, match="HTTP 401"):
        execute(STARTER, parse_overrides(["--out", str(tmp_path / "run")]))
