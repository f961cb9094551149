"""The training loop of ``autograd-gpu train``: AdamW with a cosine schedule after a linear
warm-up, gradient clipping, evaluation on the held-out split, atomic checkpoints that resume
exactly (model, optimizer, scheduler, batch-sampling RNG and history), a progress bar, a sample
and a loss curve at the end. Ctrl-C saves a checkpoint and stops cleanly.

``distributed`` (``mpiexec -n N autograd-gpu train --distributed``): data-parallel over the N
ranks with ``DistributedDataParallel``. ``batch_size`` is per rank: every rank draws the same
global batch of ``batch_size * N`` windows from the shared RNG and trains on its slice, so a run
is the single-process run with an N times larger batch, and a checkpoint (written by rank 0
alone, with the shared RNG's state) resumes on any number of ranks. Rank 0 alone shows progress."""
from __future__ import annotations

import io
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from .. import distributed as dist
from ..autograd import no_grad
from ..cuda import device_count
from ..nn.utils import clip_grad_norm_
from ..dtypes import float64
from ..ops.creation import manual_seed, tensor
from ..ops.sampling import Generator
from ..optim import AdamW
from ..nn.parallel import DistributedDataParallel
from ..optim.lr_scheduler import LambdaLR
from ..serialization import load, save, write_atomic
from .data import CharCorpus
from .model import GPT, GPTConfig

CHECKPOINT = "checkpoint.safetensors"
FORMAT = "autograd-gpu-train/1"


@dataclass
class TrainConfig:
    steps: int = 1000
    batch_size: int = 16
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup: int = 50
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_interval: int = 200
    eval_iters: int = 10
    seed: int = 1337
    sample_chars: int = 300
    device: str = "cpu"
    out: str = "runs/gpt"
    text: str | None = None
    distributed: bool = False
    extra: dict = field(default_factory=dict)


def lr_factor(cfg: TrainConfig) -> Callable[[int], float]:
    """Linear warm-up to ``lr`` over ``warmup`` steps, then cosine decay to ``min_lr`` at ``steps``."""
    def f(step: int) -> float:
        if step < cfg.warmup:
            return (step + 1) / cfg.warmup
        progress = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
        return (cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))) / cfg.lr
    return f


class Trainer:
    """Builds the corpus, model, optimizer and schedule from a ``TrainConfig`` (or a checkpoint
    in ``cfg.out`` when resuming) and runs the loop."""

    def __init__(self, cfg: TrainConfig, text: str, resume: bool = False,
                 log: Callable[[str], None] = print) -> None:
        self.cfg, self.log = cfg, log
        self.out = Path(cfg.out)
        self.rank, self.world_size = 0, 1
        if cfg.distributed:
            self._join(cfg)
        state = None
        if resume:
            path = self.out / CHECKPOINT
            if not path.is_file():
                raise FileNotFoundError(f"--resume: no checkpoint at {path}")
            state = load(path, map_location=cfg.device)
            if state.get("format") != FORMAT:
                raise RuntimeError(f"{path}: not a checkpoint of autograd-gpu train")
            saved = state["config"]
            for k in ("batch_size", "block_size", "n_layer", "n_head", "n_embd", "dropout", "lr", "min_lr",
                      "warmup", "weight_decay", "seed"):
                setattr(cfg, k, saved[k])
        self.corpus = CharCorpus(text, vocab=None if state is None else state["vocab"])
        self.model_cfg = GPTConfig(vocab_size=self.corpus.vocab_size, block_size=cfg.block_size,
                                   n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd, dropout=cfg.dropout)
        manual_seed(cfg.seed)
        self.model = GPT(self.model_cfg).to(cfg.device)
        decay = [p for n, p in self.model.named_parameters() if p.ndim >= 2]
        no_decay = [p for n, p in self.model.named_parameters() if p.ndim < 2]
        self.opt = AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                          {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.95))
        self.sched = LambdaLR(self.opt, lr_factor(cfg))
        self.gen = Generator().manual_seed(cfg.seed)
        self.step = 0
        self.history: dict = {"step": [], "loss": [], "lr": [], "val": []}
        if state is not None:
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["optimizer"])
            self.sched.load_state_dict(state["scheduler"])
            self.gen.set_state(state["rng"])
            self.step, self.history = state["step"], state["history"]
        # the module that trains: every rank's replica, gradients averaged while backward runs
        self.net = DistributedDataParallel(self.model) if cfg.distributed else self.model

    @property
    def is_main(self) -> bool:
        """Rank 0 (or the one process): it alone prints progress and writes files."""
        return self.rank == 0

    def _join(self, cfg: TrainConfig) -> None:
        """Join the job mpiexec started; ``cuda`` means this rank's own GPU (local rank modulo GPUs)."""
        if not dist.is_initialized():
            cuda = cfg.device.startswith("cuda")
            dist.init_process_group("nccl" if cuda and dist.is_nccl_available() else "mpi")
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        if cfg.device == "cuda":
            cfg.device = f"cuda:{dist.get_node_local_rank(self.rank) % max(1, device_count())}"

    def _batch(self, split: str, gen) -> tuple:
        """This rank's share of the global batch (all of it in a single process)."""
        cfg, n = self.cfg, self.world_size
        if n == 1:
            return self.corpus.batch(split, cfg.batch_size, cfg.block_size, cfg.device, gen)
        x, y = self.corpus.batch(split, cfg.batch_size * n, cfg.block_size, "cpu", gen)
        lo = self.rank * cfg.batch_size
        return x[lo:lo + cfg.batch_size].to(cfg.device), y[lo:lo + cfg.batch_size].to(cfg.device)

    def _mean_over_ranks(self, value: float) -> float:
        if self.world_size == 1:
            return value
        t = tensor([value], dtype=float64)
        dist.all_reduce(t, op=dist.ReduceOp.AVG)
        return t.item()

    # checkpoints ----------------------------------------------------------------------------------
    def save_checkpoint(self) -> Path:
        path = self.out / CHECKPOINT
        if not self.is_main:       # the replicas are identical: rank 0 writes for all
            return path
        self.out.mkdir(parents=True, exist_ok=True)
        save({"format": FORMAT, "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
              "scheduler": self.sched.state_dict(), "rng": self.gen.get_state(), "step": self.step,
              "config": {k: v for k, v in asdict(self.cfg).items() if k != "extra"},
              "model_config": self.model_cfg.to_dict(), "vocab": self.corpus.chars, "history": self.history}, path)
        write_atomic(self.out / "history.json", json.dumps(self.history).encode())
        return path

    # the loop ---------------------------------------------------------------------------------------
    @no_grad()
    def evaluate(self) -> float:
        """Mean loss over ``eval_iters`` fixed validation batches."""
        self.model.eval()
        losses = []
        gen = Generator().manual_seed(self.cfg.seed + 1)    # the same windows each time; training's stream untouched
        for _ in range(self.cfg.eval_iters):
            x, y = self._batch("val", gen)
            losses.append(self.model(x, y)[1].item())
        self.model.train()
        return self._mean_over_ranks(sum(losses) / len(losses))

    def train_step(self) -> float:
        cfg = self.cfg
        x, y = self._batch("train", self.gen)
        _, loss = self.net(x, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        lr = self.opt.param_groups[0]["lr"]
        self.opt.step()
        self.sched.step()
        value = self._mean_over_ranks(loss.item())
        self.step += 1
        self.history["step"].append(self.step)
        self.history["loss"].append(value)
        self.history["lr"].append(lr)
        return value

    def run(self, progress: bool = True) -> int:
        """Train up to ``cfg.steps``; 0 when done, 130 when interrupted (after saving)."""
        cfg = self.cfg
        from tqdm import tqdm
        tokens = cfg.batch_size * cfg.block_size * self.world_size
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not (progress and self.is_main), unit="step",
                   dynamic_ncols=True)
        try:
            while self.step < cfg.steps:
                t0 = time.perf_counter()
                loss = self.train_step()
                dt = time.perf_counter() - t0
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", lr=f"{self.history['lr'][-1]:.2e}", tok_s=f"{tokens / dt:,.0f}")
                if self.step % cfg.eval_interval == 0 or self.step == cfg.steps:
                    val = self.evaluate()
                    self.history["val"].append([self.step, val])
                    if self.is_main:
                        bar.write(f"step {self.step:5d}  train loss {loss:.4f}  val loss {val:.4f}")
                    self.save_checkpoint()
        except KeyboardInterrupt:
            bar.close()
            path = self.save_checkpoint()
            if self.is_main:
                self.log(f"interrupted at step {self.step}: checkpoint saved to {path}; continue with --resume")
            return 130
        bar.close()
        return 0

    def sample(self, prompt: str = "def ", n: int | None = None) -> str:
        ids = self.corpus.encode(prompt) or [0]
        idx = tensor([ids], device=self.cfg.device)
        self.model.eval()
        out = self.model.generate(idx, n if n is not None else self.cfg.sample_chars, temperature=0.8, top_k=20,
                                  generator=Generator().manual_seed(self.cfg.seed + 2))
        self.model.train()
        return self.corpus.decode(out[0].tolist())

    def plot(self) -> Path | None:
        """``loss.png`` in the output folder, or None without matplotlib."""
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return None
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(self.history["step"], self.history["loss"], lw=0.8, label="train (per step)")
        if self.history["val"]:
            s, v = zip(*self.history["val"])
            ax.plot(s, v, "o-", label="validation")
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy (nats/char)")
        ax.set_title(f"GPT {self.model_cfg.n_layer}x{self.model_cfg.n_embd}, {self.cfg.device}")
        ax.legend()
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        plt.close(fig)
        path = self.out / "loss.png"
        write_atomic(path, buf.getvalue())
        return path
