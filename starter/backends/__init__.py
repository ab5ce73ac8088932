"""Where completions come from when not from the local Hugging Face model.

- `starter.backends.openai`: any server that speaks OpenAI's `/v1/completions` (vLLM, SGLang, a
  hosted API). The kit stays a client: `load_remote` gives a `RemoteModel` (the registry spec
  and the local tokenizer, no weights); `sample_remote` returns `starter.sampling.Completion`
  records.

Modules here import no torch at import time (like `starter.neuronpedia`).
"""
