"""A trained network as one declaration: its module, optimiser, batches, loss and updates per epoch.

The agent's training (``diamond train``) and the world model's alone (``diamond train-world-model``)
update their networks with the same ``Component.update``; the run loop, checkpoints, DDP, timings and
logs iterate over a list of components, so a further network is one more entry in that list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from diamond.configs.schema import OptimizerConfig
from diamond.devices import autocast, check_precision
from diamond.training.batches_ahead import BatchesAhead
from diamond.training.distributed import DistInfo, Objective, data_parallel
from diamond.training.optim import backward, clip_and_step, loss_scaler, make_optimizer, optimizer_step

# loss(module, *batch) -> (loss, stats); the ``loss`` entry of the stats is what the logs show. Stats are
# detached 0-d tensors, read on the host once per epoch (``component_stats``), not once per update.
Loss = Callable[..., tuple[torch.Tensor, dict[str, float]]]


@dataclass
class Component:
    """One trained network.

    ``source`` names where its batches come from (a key of the sources the loop hands to
    ``update_components``); ``sample(source, batch_size)`` draws one batch as the loss's positional
    arguments; ``updates_in(epoch)`` is its number of updates in that epoch (spec §1).
    """

    name: str
    module: nn.Module
    optimizer_cfg: OptimizerConfig
    source: str
    sample: Callable[[Any, int], tuple]
    loss: Loss  # on one batch, in this process alone (training and held-out evaluation)
    objective: nn.Module  # the training loss over this process's shard (DDP-wrapped with several processes)
    batch_size: int  # the global batch (held-out evaluation uses it whole)
    shard_size: int  # this process's share of it (training)
    updates_in: Callable[[int], int]
    generator: torch.Generator | None = None  # its own noise stream, checkpointed as ``gen_<name>``
    held_out: bool = False  # also report its loss on the test episodes of each evaluation
    logged_stats: tuple[str, ...] | None = None  # the stats of the epoch's metrics line (None: all)
    frames_per_update: tuple[str, int] | None = None  # a throughput stat: (its name, frames per update)
    grad_accumulation: int = 1  # batches whose gradients add up to one update (spec §10: the engine's 8)
    loss_scaler: torch.amp.GradScaler | None = None  # a float16 run's (``training_parts``)
    optimizer: torch.optim.Optimizer = field(init=False)
    scheduler: torch.optim.lr_scheduler.LRScheduler = field(init=False)
    updates: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.optimizer, self.scheduler = make_optimizer(self.module, self.optimizer_cfg)

    def update(self, source: Any) -> dict[str, Tensor]:
        """One optimiser step on one batch from ``source`` (or the mean loss of ``grad_accumulation``
        batches); returns the loss's stats (averaged over the batches) and the gradient norm, as tensors."""
        return self.update_with(lambda: self.sample(source, self.shard_size))

    def update_with(self, next_batch: Callable[[], tuple]) -> dict[str, Tensor]:
        """``update`` on the batches ``next_batch()`` returns (``grad_accumulation`` of them)."""
        self.module.train()
        if self.grad_accumulation == 1:
            loss, stats = self.objective(*next_batch())
            grad_norm = optimizer_step(
                self.module, self.optimizer, self.scheduler, loss, self.optimizer_cfg.max_grad_norm, self.loss_scaler
            )
        else:
            self.optimizer.zero_grad(set_to_none=True)
            per_batch = []
            for _ in range(self.grad_accumulation):
                loss, batch_stats = self.objective(*next_batch())
                backward(loss / self.grad_accumulation, self.loss_scaler)
                per_batch.append(batch_stats)
            stats = {k: torch.stack([torch.as_tensor(s[k]) for s in per_batch]).mean() for k in per_batch[0]}
            max_norm = self.optimizer_cfg.max_grad_norm
            grad_norm = clip_and_step(self.module, self.optimizer, self.scheduler, max_norm, self.loss_scaler)
        stats["grad_norm"] = grad_norm
        self.updates += 1
        return stats

    @property
    def lr(self) -> float:
        return float(self.scheduler.get_last_lr()[0])

    # -- checkpoint entries: ``<name>``, ``<name>_optimizer``, ``<name>_scheduler`` (``<name>_scaler``) ----

    def state_dict(self) -> dict[str, Any]:
        state = {
            self.name: self.module.state_dict(),
            f"{self.name}_optimizer": self.optimizer.state_dict(),
            f"{self.name}_scheduler": self.scheduler.state_dict(),
        }
        if self.loss_scaler is not None:
            state[f"{self.name}_scaler"] = self.loss_scaler.state_dict()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.module.load_state_dict(state[self.name])
        self.optimizer.load_state_dict(state[f"{self.name}_optimizer"])
        self.scheduler.load_state_dict(state[f"{self.name}_scheduler"])
        if self.loss_scaler is not None:
            self.loss_scaler.load_state_dict(state[f"{self.name}_scaler"])


def training_parts(
    module: nn.Module, loss: Loss, dist: DistInfo, device: torch.device, precision: str = "float32", **training: Any
) -> dict[str, Any]:
    """A Component's ``objective`` and ``loss_scaler`` for ``precision`` (a ``compute.precision``), from the
    one setting: the loss as a (DDP-wrapped) module with training-only keyword arguments (generator,
    normaliser), its forward passes and loss computed in ``precision`` (``devices.autocast``; the backward
    pass runs outside it, the loss is returned in float32), and float16's loss scaler (None otherwise)."""
    check_precision(precision, device, "compute.precision")

    def computed(m: nn.Module, *batch: Any) -> tuple[Tensor, dict[str, Any]]:
        with autocast(device, precision):
            value, stats = loss(m, *batch, **training)
        return value.float(), stats

    objective = data_parallel(Objective(module, computed), dist, device)
    return {"objective": objective, "loss_scaler": loss_scaler(precision, device)}


def component_stats(name: str, stats: Iterable[dict[str, Any]], keys: Iterable[str] | None = None) -> dict[str, float]:
    """``train/<name>_<stat>``: each stat's mean over the given updates (nothing if there were none), read
    on the host here, once per stat."""
    stats = list(stats)
    if not stats:
        return {}
    mean = lambda k: float(torch.stack([torch.as_tensor(s[k], dtype=torch.float32) for s in stats]).mean())  # noqa: E731
    return {f"train/{name}_{k}": mean(k) for k in (keys or stats[0])}


def update_components(
    components: Iterable[Component],
    updates: Mapping[str, int],
    sources: Mapping[str, Callable[[], Any]],
    clock: Callable[[], float],
    draw_ahead: bool | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """One epoch's updates of every component, in order (spec §1 steps 2-3); every process of a
    data-parallel run calls this with the same counts. Returns (seconds per component, logged stats).

    ``draw_ahead`` (default: for the components on a GPU) draws each component's batches a little ahead of
    its updates on a thread (``BatchesAhead``: the same batches, in the same order). On a CPU the thread would
    take cores from the updates' own threads: on two cores it made the `cpu` preset's denoiser updates 1.9x
    slower."""
    times: dict[str, float] = {}
    logged: dict[str, float] = {}
    for c in components:
        source = sources[c.source]()  # made afresh each epoch, after the components before it have trained
        n = updates[c.name]
        ahead = draw_ahead if draw_ahead is not None else next(c.module.parameters()).device.type == "cuda"
        t = clock()
        if ahead:
            with BatchesAhead(lambda c=c, source=source: c.sample(source, c.shard_size), n * c.grad_accumulation) as b:
                stats = [c.update_with(b.next) for _ in range(n)]
        else:
            stats = [c.update(source) for _ in range(n)]
        times[c.name] = clock() - t
        logged.update(component_stats(c.name, stats, c.logged_stats))
        if stats and c.frames_per_update is not None:
            key, frames = c.frames_per_update
            logged[key] = len(stats) * frames / max(times[c.name], 1e-9)
    return times, logged
