"""Suite-wide settings: nothing in the tests may reach the internet or the user's own caches."""

import os
import re
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# Set before any test module imports starter.* or transformers.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MI_STARTER_CACHE", tempfile.mkdtemp(prefix="mi-starter-test-cache-"))
os.environ.setdefault("MPLBACKEND", "Agg")


def _save_tiny_llama(folder, num_layers: int):
    """A random 32-wide LlamaForCausalLM with the organism's tokenizer, saved to `folder` and loaded by path
    through `starter.models.load_model` (the same path that loads R1-distill and TinyThinker)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from starter.models import load_model
    from starter.organism.tokenizer import build_tokenizer

    torch.manual_seed(0)
    tok = build_tokenizer()
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=num_layers,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128,
                         pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return load_model(str(folder), device="cpu")


@pytest.fixture(scope="session")
def save_tiny_llama():
    """Factory fixture (not a plain import: pytest's rootdir-relative conftest modules shadow each other
    when tests/browser/conftest.py is collected first)."""
    return _save_tiny_llama


@pytest.fixture(scope="session")
def site_path() -> str:
    """The path of mkdocs.yml's site_url (e.g. "thinking-models-hub"), where GitHub Pages serves the site.
    Read from the file so that setting the real site_url can't break the site tests."""
    text = (Path(__file__).resolve().parents[1] / "mkdocs.yml").read_text(encoding="utf-8")
    match = re.search(r"^site_url:\s*(\S+)", text, re.MULTILINE)
    assert match, "mkdocs.yml has no site_url"
    return urlsplit(match.group(1)).path.strip("/")


@pytest.fixture
def neuronpedia_env(monkeypatch, tmp_path):
    """No Neuronpedia setting of the user's reaches a test: URL, key and offline unset, and a
    fresh user cache (tests/test_neuronpedia*.py use it on every test: `pytestmark`)."""
    for var in ("NEURONPEDIA_API_URL", "NEURONPEDIA_API_KEY", "NEURONPEDIA_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MI_STARTER_CACHE", str(tmp_path / "user-cache"))


@pytest.fixture
def sleeps(monkeypatch):
    """Record backoff delays instead of sleeping, so retry tests are instant. It replaces
    `time.sleep` for the whole process: only for local servers that never sleep themselves."""
    import time

    delays: list[float] = []
    monkeypatch.setattr(time, "sleep", delays.append)
    return delays
