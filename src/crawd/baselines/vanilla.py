"""Vanilla LoRA fine-tuning and CrAWD itself, under the common `Method` interface."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from ..config import CrawdConfig
from .base import Method


class Vanilla(Method):
    """Plain (Q)LoRA fine-tuning with the task loss: ``CrawdConfig(mode="none")``, same wrapper."""

    name: ClassVar[str] = "vanilla"
    description: ClassVar[str] = "LoRA fine-tuning with the task loss only (mode 'none')."


class Crawd(Method):
    """CrAWD: the config's mode (``"paper"`` by default; ``"attention"`` kept if asked for)."""

    name: ClassVar[str] = "crawd"
    description: ClassVar[str] = (
        "Cross-attention weight decay toward the reference words (mode 'paper'; 'attention' if configured)."
    )

    def model_config(self, config: CrawdConfig) -> CrawdConfig:
        mode = config.mode if config.mode != "none" else "paper"
        return dataclasses.replace(config, mode=mode, base_fingerprint=None)
