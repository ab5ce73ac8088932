"""TinyThinker: a 4.2M-parameter Llama trained here to solve Countdown-3 by search with backtracking.

- `data`      traces in R1-like words plus their ground truth (search tree, per-step node/depth/tag)
- `tokenizer` the 48-token tokenizer (one token per digit), saved beside the weights
- `train`     the seeded training recipe that made `checkpoint/`
- `evaluate`  held-out greedy evaluation (solved, arithmetic, backtracking, hint following)

Load the weights with `starter.models.load_model("tinythinker")`.
"""
