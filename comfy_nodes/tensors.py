"""ComfyUI tensors <-> the engine's frames.

IMAGE is a float tensor [B,H,W,C] in 0..1 (RGB, C = 3, or 4 with alpha); MASK is [B,H,W] or
[H,W]. The engine takes BGR uint8 H x W x 3. torch is imported inside each function: only
ComfyUI, which always has it, calls them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..core.errors import InputError

if TYPE_CHECKING:
    import torch

    from ..core.engine import SwapResult
    from ..core.types import Frame


def check_images(images: torch.Tensor, name: str = "image") -> None:
    """Raise a message that says what to connect unless ``images`` is a non-empty IMAGE batch."""
    shape = tuple(getattr(images, "shape", ()))
    if len(shape) != 4 or shape[-1] not in (3, 4):
        raise InputError(
            f"The {name} input has shape {list(shape)}, not an IMAGE batch [B,H,W,3]: connect an IMAGE "
            "output (LoadImage, VAE Decode, a video loader) to it."
        )
    if shape[0] == 0:
        raise InputError(
            f"The {name} batch is empty (0 frames): connect an image or a batch with at least one frame."
        )


def to_bgr(image: torch.Tensor) -> Frame:
    """One frame [H,W,C] float 0..1 RGB(A) -> H x W x 3 BGR uint8 (k/255 maps back to k exactly)."""
    import torch

    rgb = np.ascontiguousarray(image[..., :3].detach().to(device="cpu", dtype=torch.float32).numpy())
    # x * 255, rounded and saturated to 0..255 in one OpenCV pass (several times faster than torch here).
    pixels = cv2.addWeighted(rgb, 255.0, rgb, 0.0, 0.0, dtype=cv2.CV_8U)
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)


def frames(images: torch.Tensor) -> list[Frame]:
    return [to_bgr(images[i]) for i in range(images.shape[0])]


def output_batch(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A float32 copy of ``images`` to swap into, and an all-zero MASK batch [B,H,W] for it."""
    import torch

    out = images.detach().to(device="cpu", dtype=torch.float32).clone()
    return out, torch.zeros(out.shape[:3], dtype=torch.float32)


def write_swap(out: torch.Tensor, masks: torch.Tensor, index: int, result: SwapResult) -> None:
    """Copy the swapped pixels of ``result`` into frame ``index`` of ``out`` and its mask into ``masks``.

    Only the pasted regions are touched, and in them only the pixels the swap changed, so the
    rest keeps its exact input values (no 8-bit round trip) and an alpha channel is kept as it was.
    ``out`` and ``masks`` are CPU float32 tensors; their numpy views share their memory.
    """
    frame, mask = out[index].numpy(), masks[index].numpy()
    for region in result.regions:
        ys, xs = region.slices
        rgb = cv2.cvtColor(result.frame[ys, xs], cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        np.copyto(frame[ys, xs, :3], rgb, where=(region.mask > 0)[..., None])
        np.maximum(mask[ys, xs], region.mask, out=mask[ys, xs])


def limit_mask(mask: torch.Tensor | None, batch: int, height: int, width: int) -> torch.Tensor | None:
    """A user's MASK as [B,H,W] float (one mask serves every frame), or a message on a size mismatch."""
    if mask is None:
        return None
    import torch

    m = mask.detach().to(device="cpu", dtype=torch.float32)
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3:
        raise InputError(f"The mask input has shape {list(mask.shape)}; a MASK is [H,W] or [B,H,W].")
    if tuple(m.shape[1:]) != (height, width):
        raise InputError(
            f"The mask is {m.shape[2]}x{m.shape[1]} but the images are {width}x{height}: give a mask of "
            "the images' size (LoadImage gives a 64x64 empty mask when its file has no alpha channel), "
            "scale it to the images, or leave the mask input unconnected."
        )
    if m.shape[0] not in (1, batch):
        raise InputError(
            f"The mask batch has {m.shape[0]} masks for {batch} frames: give one mask for all frames or "
            "one per frame."
        )
    return m.clamp(0.0, 1.0).expand(batch, height, width)


def apply_limit(
    swapped: torch.Tensor, original: torch.Tensor, swap_mask: torch.Tensor, limit: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep the swap only inside ``limit``: out = original + (swapped - original) * limit.

    Where the limit is 0 or the swap changed nothing, the input pixels come out exactly.
    """
    if limit is None:
        return swapped, swap_mask
    base = original[..., :3].to(device=swapped.device, dtype=swapped.dtype)
    swapped[..., :3] = base + (swapped[..., :3] - base) * limit[..., None]
    return swapped, swap_mask * limit
