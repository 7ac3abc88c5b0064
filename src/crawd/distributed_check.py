"""Data-parallel check: train a tiny CrAWD model with `CrawdTrainer` and write the per-step losses.

Run it once in one process and once under a launcher with the same global batch; the loss sequences
must agree (tests/test_distributed.py does this with 2 gloo CPU processes)::

    python -m crawd.distributed_check --out one.json --global-batch 8
    torchrun --nproc_per_node 2 --master_addr 127.0.0.1 -m crawd.distributed_check --out two.json --global-batch 8

Every sequence has the same length (no padding), dropout is 0, so the mean of the per-process mean
losses equals the single-process mean and the averaged gradients are the same.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

import torch


def tiny_model(seed: int = 0, mode: str = "paper"):
    """A random 2-layer Llama with SmolLM2's tokenizer, wrapped by CrAWD (dropouts 0)."""
    from .config import CrawdConfig
    from .modeling import CrawdForCausalLM
    from .testing import tiny_causal_lm

    base, tok = tiny_causal_lm("llama", seed=seed)
    ccfg = CrawdConfig(mode=mode, reference_words=["gender", "race"], dropout=0.0, lora_dropout=0.0)
    model = CrawdForCausalLM.from_base(base, tok, ccfg)
    if mode == "paper":
        with torch.no_grad():  # a non-zero head so the branch and the reference pass get gradients
            model.proj.weight.normal_(0, 0.02, generator=torch.Generator().manual_seed(seed + 1))
    return model, tok


def dataset(n: int, seq_len: int, vocab: int, seed: int = 0):
    from datasets import Dataset

    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, min(vocab, 5000), (n, seq_len), generator=g)
    return Dataset.from_dict(
        {"input_ids": ids.tolist(), "attention_mask": torch.ones_like(ids).tolist(), "labels": ids.tolist()}
    )


def run(
    *, steps: int, global_batch: int, seq_len: int, mode: str, out: str | None, seed: int = 0
) -> list[float]:
    """Train ``steps`` optimizer steps; return (and write to ``out`` on rank 0) the logged losses."""
    from transformers import TrainerCallback, TrainingArguments, default_data_collator

    from .training import CrawdTrainer

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if global_batch % world:
        raise SystemExit(f"--global-batch {global_batch} is not divisible by the {world} processes")
    model, tok = tiny_model(seed, mode)
    losses: list[float] = []
    norms: list[float] = []

    class Record(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))
                norms.append(float(logs.get("grad_norm", float("nan"))))

    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp,
            per_device_train_batch_size=global_batch // world,
            max_steps=steps,
            learning_rate=1e-2,
            logging_steps=1,
            save_strategy="no",
            report_to=[],
            use_cpu=True,
            seed=seed,
            data_seed=seed,
            ddp_backend="gloo" if world > 1 else None,
            ddp_find_unused_parameters=False,
            disable_tqdm=True,
            dataloader_num_workers=0,
            optim="adamw_torch",
        )
        trainer = CrawdTrainer(
            model=model,
            args=args,
            train_dataset=dataset(global_batch * steps, seq_len, len(tok), seed),
            data_collator=default_data_collator,
            callbacks=[Record()],
        )
        trainer.train()
        rank0 = trainer.is_world_process_zero()
    if out and rank0:
        with open(out, "w") as fh:
            json.dump(
                {"world_size": world, "global_batch": global_batch, "losses": losses, "grad_norms": norms}, fh
            )
    return losses


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="JSON file for the loss sequence (written by rank 0)")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--global-batch", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=16)
    p.add_argument("--mode", default="paper", choices=["paper", "none"])
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    run(steps=a.steps, global_batch=a.global_batch, seq_len=a.seq_len, mode=a.mode, out=a.out)


if __name__ == "__main__":
    main()
