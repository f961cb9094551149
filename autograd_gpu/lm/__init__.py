"""The model ``autograd-gpu train`` trains: a small GPT-style character-level language model
(``model.py``), its corpus (``data.py``) and the training loop with checkpoints (``train.py``)."""
from .data import CharCorpus, default_corpus_files, read_text
from .model import GPT, GPTConfig
from .train import TrainConfig, Trainer

__all__ = ["CharCorpus", "default_corpus_files", "read_text", "GPT", "GPTConfig", "TrainConfig", "Trainer"]
