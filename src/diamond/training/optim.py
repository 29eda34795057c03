"""AdamW with the spec's weight-decay groups, linear warm-up and gradient clipping (spec §6)."""

from __future__ import annotations

import torch
from torch import nn

from diamond.configs.schema import OptimizerConfig

DECAYED_MODULES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.LSTM, nn.LSTMCell)


def decay_groups(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Split parameters into (decayed, not decayed): only weights of linear, convolution and LSTM layers decay."""
    decay, no_decay = [], []
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            is_weight = name.startswith("weight")  # LSTM weights are weight_ih_l0 / weight_hh_l0
            (decay if isinstance(module, DECAYED_MODULES) and is_weight else no_decay).append(param)
    return decay, no_decay


def make_optimizer(
    model: nn.Module, cfg: OptimizerConfig
) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    decay, no_decay = decay_groups(model)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
        eps=cfg.eps,
        fused=cfg.fused or None,  # None: PyTorch's default (the foreach kernels where they apply)
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_factor(step, cfg.warmup_steps))
    return optimizer, scheduler


def warmup_factor(step: int, warmup_steps: int) -> float:
    """Linear warm-up from 0 over ``warmup_steps`` optimiser steps, then constant (as the reference does)."""
    return 1.0 if step >= warmup_steps else step / warmup_steps


def optimizer_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler,
    loss: torch.Tensor,
    max_grad_norm: float,
    scaler: torch.amp.GradScaler | None = None,
) -> torch.Tensor:
    """Backward, clip the global gradient norm, step. Returns the pre-clipping gradient norm (a 0-d tensor on
    the model's device: reading it is left to whoever logs it)."""
    optimizer.zero_grad(set_to_none=True)
    backward(loss, scaler)
    return clip_and_step(model, optimizer, scheduler, max_grad_norm, scaler)


def backward(loss: torch.Tensor, scaler: torch.amp.GradScaler | None = None) -> None:
    """``loss.backward()``, scaled first when a float16 run's loss scaler is given."""
    (loss if scaler is None else scaler.scale(loss)).backward()


def clip_and_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, scheduler, max_grad_norm: float, scaler=None
) -> torch.Tensor:
    """Clip the global norm of the gradients already accumulated, step. Returns the pre-clipping norm.
    With a loss scaler the gradients are unscaled before clipping, and a step whose gradients overflowed
    is skipped (the scaler then lowers its scale)."""
    if scaler is not None:
        scaler.unscale_(optimizer)
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)
        scaler.update()
    scheduler.step()
    return grad_norm.detach()


def loss_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    """The loss scaler a float16 run's updates need (its small exponent range would flush small gradients
    to zero); None for float32 and bfloat16, whose exponent range is float32's."""
    return torch.amp.GradScaler(device.type) if precision == "float16" else None
