"""Source identities: built from images, averaged, saved and loaded as face models.

A face model holds the averaged, normalised ArcFace embedding and its metadata. Files are
``.safetensors`` or ``.npz`` (read with ``allow_pickle=False``); no pickle is ever loaded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError, OutputError
from .imageio import atomic_output
from .recognize import l2_normalise
from .types import Embedding

FORMAT_VERSION = "1"


@dataclass
class SourceFace:
    """One identity to swap in: the mean of the normalised embeddings of its images."""

    embedding: Embedding
    count: int = 1
    metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def average(cls, embeddings: Sequence[Embedding], metadata: dict[str, str] | None = None) -> SourceFace:
        if not embeddings:
            raise InputError("No source embeddings to average: give at least one image with a face.")
        stacked = np.stack([l2_normalise(np.asarray(e, dtype=np.float32).ravel()) for e in embeddings])
        return cls(l2_normalise(stacked.mean(axis=0)), len(embeddings), dict(metadata or {}))

    def save(self, path: Path | str) -> Path:
        """Write a ``.safetensors`` or ``.npz`` face model atomically."""
        path = Path(path)
        meta = {
            **self.metadata,
            "format": "inswapper-live face model",
            "version": FORMAT_VERSION,
            "count": str(self.count),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        suffix = path.suffix.lower()
        if suffix not in (".safetensors", ".npz"):
            raise OutputError(f"Face model {path} must end in .safetensors or .npz.")
        if not path.parent.is_dir():
            raise OutputError(f"Cannot save face model {path}: folder {path.parent} does not exist.")
        embedding = np.ascontiguousarray(self.embedding, dtype=np.float32)
        with atomic_output(path) as tmp:
            if suffix == ".safetensors":
                from safetensors.numpy import save_file

                save_file({"embedding": embedding}, str(tmp), metadata=meta)
            else:
                with tmp.open("wb") as f:
                    np.savez(f, embedding=embedding, metadata=np.array(json.dumps(meta)))
        return path

    @classmethod
    def load(cls, path: Path | str) -> SourceFace:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"Face model {path} does not exist.")
        try:
            if path.suffix.lower() == ".safetensors":
                from safetensors import safe_open

                with safe_open(str(path), framework="numpy") as f:
                    meta = dict(f.metadata() or {})
                    embedding = f.get_tensor("embedding")
            elif path.suffix.lower() == ".npz":
                with np.load(path, allow_pickle=False) as data:
                    embedding = data["embedding"]
                    meta = json.loads(str(data["metadata"])) if "metadata" in data else {}
            else:
                raise InputError(f"Face model {path} must be a .safetensors or .npz file.")
        except InputError:
            raise
        except Exception as error:
            raise InputError(f"Face model {path} cannot be read ({error}): save it again.") from error
        embedding = np.asarray(embedding, dtype=np.float32).ravel()
        if embedding.shape != (512,) or not np.all(np.isfinite(embedding)):
            raise InputError(f"Face model {path} holds no valid 512-d embedding: save it again.")
        count = int(meta.get("count", "1")) if str(meta.get("count", "1")).isdigit() else 1
        return cls(l2_normalise(embedding), count, meta)
