"""The tokenizer of the R1-shaped test models: R1-distill's added tokens and template, small BPE.

`r1-shaped` and `r1-shaped-tiny` (starter/models.yaml, source `random-init`) are models nobody has
to download: random weights, seeded, in DeepSeek-R1-Distill-Qwen-1.5B's architecture (full size) or
in tiny widths (CPU tests). Their tokenizer lives in `starter/data/r1_shaped/` and is made here:

- the chat template is DeepSeek-R1-Distill-Qwen's own (`R1_DISTILL_CHAT_TEMPLATE`), so a prompt
  renders as an R1 distill sees it and ends with `<｜Assistant｜><think>\\n`;
- the added tokens carry R1-distill's strings and flags (`R1_ADDED_TOKENS`): BOS/EOS are special,
  the role tokens and `<think>`/`</think>` are not (decoding keeps them, as with the real one);
- the vocabulary is a byte-level BPE of about 700 tokens trained on `CORPUS`; its ids are not R1's.

    >>> tokenizer = load_tokenizer()
    >>> tokenizer.apply_chat_template([{"role": "user", "content": "2+3?"}], tokenize=False,
    ...                               add_generation_prompt=True)
    '<｜begin▁of▁sentence｜><｜User｜>2+3?<｜Assistant｜><think>\\n'
    >>> tokenizer.convert_ids_to_tokens(tokenizer("</think>", add_special_tokens=False).input_ids)
    ['</think>']

Regenerate the shipped files (deterministic; tests/test_r1_shaped.py checks they match):

    python -m starter.r1_shaped
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

TOKENIZER_DIR = Path(__file__).parent / "data" / "r1_shaped"
BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"
BPE_VOCAB_SIZE = 1024  # at most this many byte-level BPE tokens (CORPUS yields ~700; R1: 151,643)


@dataclass(frozen=True)
class AddedToken:
    content: str  # the token's text
    special: bool  # True: dropped by decode(skip_special_tokens=True)


# R1-distill-Qwen's added tokens that R1's prompts and completions use, with their "special" flags
# as in deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B's tokenizer.json (ids 151643-151649 there).
R1_ADDED_TOKENS = (
    AddedToken(EOS, special=True),
    AddedToken(USER, special=False),
    AddedToken(ASSISTANT, special=False),
    AddedToken(BOS, special=True),
    AddedToken("<|EOT|>", special=False),
    AddedToken("<think>", special=False),
    AddedToken("</think>", special=False),
)

# The chat template of deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B (tokenizer_config.json, the
# revision whose generation prompt opens the thinking block), verbatim, tool-call quirks included.
R1_DISTILL_CHAT_TEMPLATE = (
    "{% if not add_generation_prompt is defined %}"
    "{% set add_generation_prompt = false %}{% endif %}"
    "{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, "
    "system_prompt='') %}"
    "{%- for message in messages %}{%- if message['role'] == 'system' %}"
    "{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}"
    "{{bos_token}}{{ns.system_prompt}}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}"
    "{{'<｜User｜>' + message['content']}}{%- endif %}"
    "{%- if message['role'] == 'assistant' and message['content'] is none %}"
    "{%- set ns.is_tool = false -%}"
    "{%- for tool in message['tool_calls']%}{%- if not ns.is_first %}"
    "{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type']"
    " + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n'"
    " + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}"
    "{%- set ns.is_first = true -%}"
    "{%- else %}"
    "{{'\\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>'"
    " + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments']"
    " + '\\n' + '```' + '<｜tool▁call▁end｜>'}}"
    "{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}"
    "{%- endif %}{%- endfor %}{%- endif %}"
    "{%- if message['role'] == 'assistant' and message['content'] is not none %}"
    "{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}"
    "{%- set ns.is_tool = false -%}"
    "{%- else %}{% set content = message['content'] %}"
    "{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}"
    "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}"
    "{%- endif %}{%- endif %}"
    "{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}"
    "{%- if ns.is_output_first %}"
    "{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}"
    "{%- set ns.is_output_first = false %}"
    "{%- else %}{{'\\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}"
    "{%- endif %}{%- endif %}"
    "{%- endfor -%}"
    "{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}"
    "{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\\n'}}{% endif %}"
)

# What the BPE is trained on: the kind of text R1 distills read and write (maths, Countdown, steps).
CORPUS = (
    "Please reason step by step, and put your final answer within \\boxed{}.",
    "Okay, so I need to figure out how many apples are left. Let me think about this step by step.",
    "First, I add the numbers: 2 + 3 = 5. Then I multiply by 4, which gives 20.",
    "Wait, that doesn't seem right. Let me check again. Hmm, maybe I made a mistake.",
    "Alternatively, I could try (19 - 8) \\times 4 = 44. No, the target is 31.",
    "So, 8 + 19 + 4 = 31. Yes, that works. Therefore, the answer is \\boxed{31}.",
    "Numbers: 8 19 4. Target: 31. Let me try 19 + 8 = 27, then 27 + 4 = 31.",
    "The fraction \\frac{20}{5} equals 4, and 4 + 13 = 17, so the final answer is \\boxed{17}.",
    "Let me verify: 17 - 13 = 4 and 20 / 5 = 4. Great, it checks out.",
    "Tom has 12 apples and eats 3. How many are left? 12 - 3 = 9. The answer is 9.",
    "If x = 7, then 2x + 1 = 15. Solving for x in 3x - 6 = 0 gives x = 2.",
    "Hmm, but wait, what about the case where the number is negative? Let's consider -5.",
    "I think the answer is correct. To double-check, I'll recompute the sum: 1 + 2 + 3 + 4 = 10.",
    "Now, the probability is \\frac{1}{6} for each face of a die, so two sixes have \\frac{1}{36}.",
    "Step 1: compute the area. Step 2: divide by the width. Step 3: conclude the length is 12 cm.",
    "Therefore, the total cost is $45, and each of the 3 friends pays $15.",
    "Let's denote the unknown by n. Then n^2 = 49, so n = 7 or n = -7; since n > 0, n = 7.",
    "Actually, I realize I should use the formula a^2 + b^2 = c^2, so c = \\sqrt{9 + 16} = 5.",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 25 30 31 40 50 64 100 256 1000",
    "The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG!",
)


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Train the byte-level BPE on CORPUS, add R1's tokens, attach R1-distill's chat template."""
    from tokenizers import AddedToken as TkAddedToken
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.normalizer = normalizers.NFC()  # as Qwen2's tokenizer
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=BPE_VOCAB_SIZE, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train_from_iterator(list(CORPUS) * 8, trainer)
    added = [TkAddedToken(t.content, special=t.special, normalized=False) for t in R1_ADDED_TOKENS]
    core.add_tokens(added)
    bos_id = core.token_to_id(BOS)
    # R1-distill's tokenizer prepends BOS to plain text (its prompts already start with it).
    core.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A $B",
                                                        special_tokens=[(BOS, bos_id)])
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token=BOS, eos_token=EOS,
                                   pad_token=EOS, chat_template=R1_DISTILL_CHAT_TEMPLATE,
                                   model_max_length=131072)


def write_tokenizer(folder: Path = TOKENIZER_DIR) -> list[Path]:
    """Save build_tokenizer() to `folder` (default: the package copy); returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    # The template goes inside tokenizer_config.json, as in R1-distill's repo (and as package data).
    return [Path(p) for p in build_tokenizer().save_pretrained(folder, save_jinja_files=False)]


@lru_cache(maxsize=1)
def _shipped(folder: str) -> PreTrainedTokenizerFast:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast.from_pretrained(folder)


def load_tokenizer(folder: Path = TOKENIZER_DIR) -> PreTrainedTokenizerFast:
    """A fresh copy of the shipped tokenizer (callers may change padding_side or pad_token)."""
    import copy

    return copy.deepcopy(_shipped(str(folder)))


if __name__ == "__main__":
    for path in write_tokenizer(Path(sys.argv[1]) if len(sys.argv) > 1 else TOKENIZER_DIR):
        print(path)
