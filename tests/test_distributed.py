"""Data-parallel training on 2 gloo CPU processes (torchrun) gives the losses of one process with the
same global batch. Both runs are subprocesses of `crawd.distributed_check` (no network beyond 127.0.0.1)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], out: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.pop("WORLD_SIZE", None)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out) as fh:
        return json.load(fh)


@pytest.mark.parametrize("mode", ["paper"])
def test_two_process_ddp_matches_one_process(tmp_path, mode):
    args = ["-m", "crawd.distributed_check", "--global-batch", "8", "--steps", "5", "--mode", mode]
    one = _run([sys.executable, *args, "--out", str(tmp_path / "one.json")], str(tmp_path / "one.json"))
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
    ]
    two = _run([*launcher, *args, "--out", str(tmp_path / "two.json")], str(tmp_path / "two.json"))
    assert one["world_size"] == 1 and two["world_size"] == 2
    assert len(one["losses"]) == len(two["losses"]) == 5
    assert two["losses"] == pytest.approx(one["losses"], rel=1e-4)
    assert two["grad_norms"] == pytest.approx(one["grad_norms"], rel=1e-3)
    assert one["losses"][-1] != pytest.approx(one["losses"][0], rel=1e-6)  # the weights did move
