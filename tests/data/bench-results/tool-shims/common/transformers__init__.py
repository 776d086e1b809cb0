"""Stand-in for the `transformers` names bench_serving imports (transformers is not installable here).

A word-level tokenizer: token id i is the word "w<i>"; decode joins words with spaces, encode splits on whitespace.
"""
import json, os


class PreTrainedTokenizerBase:
    def __init__(self, vocab_size=32000):
        self.vocab_size = vocab_size
        self.init_kwargs = {}
        self.chat_template = None
        self.bos_token_id = None
        self.eos_token_id = None

    def __len__(self):
        return self.vocab_size

    def get_vocab(self):
        return {f"w{i}": i for i in range(self.vocab_size)}

    def num_special_tokens_to_add(self, pair=False):
        return 0

    def decode(self, ids, skip_special_tokens=False, **kwargs):
        return " ".join(f"w{int(i)}" for i in ids)

    def encode(self, text, add_special_tokens=True, **kwargs):
        out = []
        for word in text.split():
            if word.startswith("w") and word[1:].isdigit():
                out.append(int(word[1:]) % self.vocab_size)
            else:
                out.append(hash(word) % self.vocab_size)
        return out

    def __call__(self, text, **kwargs):
        if isinstance(text, list):
            return BatchEncoding(input_ids=[self.encode(t) for t in text])
        return BatchEncoding(input_ids=self.encode(text))


class BatchEncoding(dict):
    """transformers' BatchEncoding: a dict whose keys are also attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)


PreTrainedTokenizer = PreTrainedTokenizerBase
PreTrainedTokenizerFast = PreTrainedTokenizerBase


class AutoTokenizer:
    @staticmethod
    def from_pretrained(path, **kwargs):
        size = 32000
        cfg = os.path.join(path, "config.json") if os.path.isdir(str(path)) else None
        if cfg and os.path.exists(cfg):
            size = json.load(open(cfg)).get("vocab_size", size)
        return PreTrainedTokenizerBase(size)


class AutoProcessor:
    @staticmethod
    def from_pretrained(path, **kwargs):
        raise RuntimeError("no processor in the word-level stand-in")
