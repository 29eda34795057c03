"""The LSTM initialisation shared by the reward/termination model and the actor-critic (spec §5, §6)."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def init_lstm(lstm: nn.LSTM | nn.LSTMCell) -> None:
    """Input weights Xavier-uniform, recurrent weights orthogonal, biases 0 except the forget gate's 1.

    PyTorch orders the 4 gates (input, forget, cell, output) along the first dimension, so the forget
    gate is the second quarter of each bias. Only ``bias_ih`` gets the 1: the two biases are summed.
    """
    for name, param in lstm.named_parameters():
        if name.startswith("weight_ih"):
            nn.init.xavier_uniform_(param)
        elif name.startswith("weight_hh"):
            for gate in param.chunk(4, dim=0):
                nn.init.orthogonal_(gate)
        elif name.startswith("bias"):
            param.zero_()
            if name.startswith("bias_ih"):
                hidden = param.numel() // 4
                param[hidden : 2 * hidden] = 1.0
