"""TinyThinker's tokenizer: one token per digit, words and punctuation whole, spaces glued to the next token.

Built with `tokenizers` (a fixed vocabulary, so ids never depend on data) and wrapped as a Hugging Face
`PreTrainedTokenizerFast`, saved beside the weights so `AutoTokenizer.from_pretrained(dir)` round-trips.
A leading space is part of the token (" 8" and "8" are different ids, as in GPT-style tokenizers), which is
what lets `decode` restore the exact text. Encoding prepends `<bos>`, as TransformerLens expects.

>>> tok = build_tokenizer()
>>> ids = tok("Numbers: 8 19 4. Target: 31. <think>")["input_ids"]
>>> tok.convert_ids_to_tokens(ids)[:6]
['<bos>', 'Numbers', ':', ' 8', ' 1', '9']
>>> tok.decode(ids, skip_special_tokens=True)
'Numbers: 8 19 4. Target: 31. <think>'
"""

from __future__ import annotations

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
DIGITS = tuple(str(d) for d in range(10)) + tuple(f" {d}" for d in range(10))
WORDS = ("Numbers", " Target", " Hint", " <think>", " Try", " Left", " Miss", " Hit", " Wait", " backtrack",
         " </think>", " \\boxed")  # fmt: skip
PUNCTUATION = (":", ".", ",", "=", "+", "-", "*", "/", "(", ")", "{", "}")
VOCAB: tuple[str, ...] = SPECIALS + DIGITS + WORDS + PUNCTUATION

# An optional space, then a digit, a tag-like word, a word, or one punctuation character.
PIECE = r" ?(?:\d|</?think>|\\boxed|[A-Za-z]+|[^\sA-Za-z\d])"


def build_tokenizer(extra_words: tuple[str, ...] = ()):
    """A fresh `PreTrainedTokenizerFast` over VOCAB (pad 0, bos 1, eos 2, unk 3), then `extra_words`
    (words some organism variants read, e.g. " Monitored"; ids after VOCAB's, so base ids never move).

    >>> build_tokenizer((" Monitored",))(" Target: 7. Monitored.")["input_ids"][-2:]
    [48, 37]
    """
    from transformers import PreTrainedTokenizerFast

    vocab = VOCAB + tuple(extra_words)
    core = Tokenizer(models.WordLevel({token: i for i, token in enumerate(vocab)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(PIECE), behavior="isolated")
    core.decoder = decoders.Fuse()  # tokens carry their own spaces: concatenate them
    core.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        clean_up_tokenization_spaces=False,
        model_max_length=256,
    )
