"""A black-box starter end to end through `--backend openai` against a loopback server (issue #16).

The server runs the same TinyThinker as the local path (tests/openai_server.py), so greedy text must be
identical; a white-box starter refuses the backend with one line; a killed run resumes without asking
the server again for rows already written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from starter import questions
from starter.errors import UsageError
from starter.experiment import execute, parse_overrides
from starter.models import load_model
from tests.openai_server import ModelEngine, OpenAIServer

# determinism, shrunk: 2 problems, regenerations at T=0 only, the greedy control on 1 problem
SMALL = ["--set", "n_chains=2", "--set", "n_continuations=2", "--set", "fractions=0,1",
         "--set", "temperatures=0", "--set", "greedy_repeats=1"]


@pytest.fixture(scope="module")
def lm():
    return load_model("tinythinker", device="cpu")


def _rows(out) -> list[dict]:
    lines = (out / "results.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _greedy_texts(rows: list[dict]) -> dict[str, list[str]]:
    return {r["unit"]: r["texts"] for r in rows if r["unit"].startswith("greedy:")}


def _remote_args(server, out) -> list[str]:
    return ["--preset", "smoke", "--offline", "--out", str(out), "--backend", "openai",
            "--base-url", server.url, "--served-model", "served-model", *SMALL]


@pytest.mark.slow
def test_determinism_through_the_backend_matches_the_local_greedy_path(lm, tmp_path):
    starter = questions.load("determinism")
    local = execute(starter, parse_overrides(["--preset", "smoke", "--offline", "--device", "cpu",
                                              "--out", str(tmp_path / "local"), *SMALL]))
    with OpenAIServer(ModelEngine(lm), max_requests=200) as server:
        remote = execute(starter, parse_overrides(_remote_args(server, tmp_path / "remote")))
    local_greedy = _greedy_texts(_rows(local))
    assert local_greedy, "the local run wrote no greedy control rows"
    assert _greedy_texts(_rows(remote)) == local_greedy
    manifest = json.loads((remote / "manifest.json").read_text())
    assert manifest["config"]["backend"] == {"kind": "openai", "base_url": server.url,
                                             "served_model": "served-model"}
    assert manifest["backend"]["api_key"] in ("set", "unset")
    assert (remote / "findings.json").is_file()


def test_a_white_box_starter_refuses_the_backend_in_one_line():
    args = parse_overrides(["--backend", "openai", "--base-url", "http://127.0.0.1:9/v1",
                            "--served-model", "m", "--offline"])
    with pytest.raises(UsageError, match="run it with --backend local"):
        execute(questions.load("cot-probing"), args)


def test_server_options_without_the_backend_are_refused():
    with pytest.raises(UsageError, match="need --backend openai"):
        execute(questions.load("determinism"), parse_overrides(["--base-url", "http://x/v1"]))


@pytest.mark.slow
def test_a_killed_remote_run_resumes_without_repeating_finished_requests(lm, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "starter.cli", "run", "determinism"]
    env = {**os.environ, "NEURONPEDIA_OFFLINE": "1", "OPENAI_API_KEY": "sk-test-not-a-secret"}
    with OpenAIServer(ModelEngine(lm), max_requests=400) as server:
        proc = subprocess.Popen([*cmd, *_remote_args(server, out)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            rows = _rows(out) if (out / "results.jsonl").exists() else []
            if any(r["unit"].startswith("reference:") for r in rows):
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        written = {r["unit"] for r in _rows(out)}
        assert written and proc.returncode == -signal.SIGKILL, "the run ended before the kill"
        before = len(server.requests)
        done = subprocess.run([*cmd, *_remote_args(server, out)], env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        after = [r["body"] for r in server.requests[before:]]
    references = [r for r in _rows(out) if r["unit"] in written and r["unit"].startswith("reference:")]
    # prompts travel as the local tokenizer's ids (or as text, with prompt_as="text")
    finished = {json.dumps(lm.encode(r["prompt"]).input_ids[0].tolist()) for r in references}
    finished |= {json.dumps(r["prompt"]) for r in references}
    asked_again = [b for b in after if json.dumps(b["prompt"]) in finished
                   and (b.get("temperature") or 0) > 0]
    assert not asked_again, "resume asked the server again for references already written"
    assert "sk-test-not-a-secret" not in (out / "manifest.json").read_text()
