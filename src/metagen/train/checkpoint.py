"""Checkpoints: tensors in safetensors, everything else in JSON; written atomically; never unpickled.

A checkpoint is a pair ``NAME.safetensors`` + ``NAME.json``. The weights file is written first
(temporary file, flush, fsync, rename), then the JSON, which records the weights' sha256 and a
checksum over its own content. A reader therefore sees either a complete pair or none (an orphan
weights file without its JSON is ignored), and an edited or swapped file is refused.
The checksum catches damage and naive edits; it is not a signature against a determined forger.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

import metagen
from metagen.errors import CheckpointError
from metagen.io import write_bytes_atomic

FORMAT = "metagen-checkpoint/1"


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON through a temporary file and a rename."""
    write_bytes_atomic(Path(path), (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())


def _checksum(meta: dict[str, Any]) -> str:
    body = {k: v for k, v in meta.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def save_checkpoint(stem: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    """Write ``stem.safetensors`` then ``stem.json``; returns the JSON path."""
    stem = Path(stem)
    blob = st_save({k: v.detach().contiguous().cpu() for k, v in tensors.items()})
    record = {
        **meta,
        "format": FORMAT,
        "metagen_version": metagen.__version__,
        "weights_file": stem.name + ".safetensors",
        "weights_sha256": hashlib.sha256(blob).hexdigest(),
    }
    record["checksum"] = _checksum(record)
    write_bytes_atomic(stem.with_suffix(".safetensors"), blob)
    json_path = stem.with_suffix(".json")
    write_json_atomic(json_path, record)
    return json_path


def read_checkpoint_meta(path: str | Path) -> dict[str, Any]:
    """Read and verify the JSON half of a checkpoint (``path`` may name either file or the stem)."""
    json_path = Path(path).with_suffix(".json")
    if not json_path.is_file():
        raise CheckpointError(f"checkpoint not found: {json_path}")
    try:
        meta = json.loads(json_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{json_path}: not a readable checkpoint record ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{json_path}: not a metagen checkpoint (format {meta.get('format') if isinstance(meta, dict) else None!r})"
        )
    if meta.get("checksum") != _checksum(meta):
        raise CheckpointError(f"{json_path}: checksum mismatch; the checkpoint record was modified or damaged")
    return meta


def load_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load and verify a checkpoint: (tensors, metadata). Raises ``CheckpointError`` if anything is off."""
    meta = read_checkpoint_meta(path)
    weights_path = Path(path).with_suffix(".json").with_name(meta["weights_file"])
    if not weights_path.is_file():
        raise CheckpointError(f"checkpoint weights missing: {weights_path}")
    blob = weights_path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != meta["weights_sha256"]:
        raise CheckpointError(f"{weights_path}: sha256 does not match its record; the weights were modified or damaged")
    try:
        tensors = st_load(blob)
    except (SafetensorError, ValueError) as exc:
        raise CheckpointError(f"{weights_path}: not a readable safetensors file ({exc})") from None
    return {k: v.to(map_location) for k, v in tensors.items()}, meta


def rng_state_to_json(state: torch.Tensor) -> str:
    """A torch RNG state (uint8 tensor) as base64 text for the JSON record."""
    return base64.b64encode(state.numpy().tobytes()).decode()


def rng_state_from_json(text: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8).clone()


def optimizer_to_checkpoint(
    optimizer: torch.optim.Optimizer, prefix: str = "optim"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer's state dict into tensors (for safetensors) and plain data (for JSON)."""
    sd = optimizer.state_dict()
    tensors, plain_state = {}, {}
    for idx, entry in sd["state"].items():
        plain_state[str(idx)] = {}
        for name, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{idx}.{name}"] = value
            else:
                plain_state[str(idx)][name] = value
    return tensors, {"param_groups": sd["param_groups"], "plain_state": plain_state}


def optimizer_from_checkpoint(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], record: dict[str, Any], prefix: str = "optim"
) -> None:
    """Restore what :func:`optimizer_to_checkpoint` saved into ``optimizer``."""
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in record["plain_state"].items()}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    try:
        optimizer.load_state_dict({"state": state, "param_groups": record["param_groups"]})
    except (ValueError, KeyError) as exc:
        raise CheckpointError(f"optimizer state does not fit this model ({exc})") from None
