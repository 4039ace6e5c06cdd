"""The optimizer, schedule and update step shared by ``train-neural`` and ``pretrain-neural``.

AdamW with BERT's usual split (no weight decay on biases and LayerNorm weights), a linear schedule with
warm-up, and an update with the gradient norm clipped at 1.0.
"""

from __future__ import annotations

from typing import Any

_NO_DECAY = ("bias", "LayerNorm.weight")


def adamw_with_warmup(
    model: Any, *, lr: float, weight_decay: float, warmup: float, total_steps: int
) -> tuple[Any, Any]:
    """(optimizer, scheduler) over the model's trainable parameters; ``warmup`` is a share of
    ``total_steps``."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    decayed: list[Any] = []
    not_decayed: list[Any] = []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (not_decayed if any(k in name for k in _NO_DECAY) else decayed).append(param)
    groups = [{"params": decayed, "weight_decay": weight_decay}, {"params": not_decayed, "weight_decay": 0.0}]
    # the fused kernel on a GPU: one launch per step instead of several per parameter tensor
    on_gpu = any(param.is_cuda for param in decayed + not_decayed)
    optimizer = torch.optim.AdamW(groups, lr=lr, fused=on_gpu or None)
    return optimizer, get_linear_schedule_with_warmup(optimizer, int(warmup * total_steps), total_steps)


def apply_step(loss: Any, model: Any, optimizer: Any, scheduler: Any) -> None:
    """Backpropagate ``loss``, clip the gradient norm at 1.0, step the optimizer and the schedule."""
    import torch

    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
