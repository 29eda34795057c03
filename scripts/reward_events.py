"""How a `diamond train` run's world model sees the rewards and episode ends of its own replay data.

For every rewarded transition and every episode end in the run's replay data, and for a sample of the
other transitions, the reward/termination model is burned in over the real context frames and then
asked about the transition three times: with the real next frame, with the next frame the denoiser samples
from the same context and action, and with one it samples for another action, drawn uniformly among the
others (one draw each, 3 Euler steps by default). Printed per group: the mean probability of a non-zero
reward and of an end, the share above one half, and the share of sampled next frames that equal the real
one in every pixel (within a tolerance); then the reward rate these probabilities imply over all
transitions against the data's own rate. Last, imagined rollouts as the
actor-critic's (contexts drawn as in training, horizon 15) under a uniformly random policy: the share of
envs that imagine a reward or an end at each step, against the data's rates, and the mean number of
pixels that change from one frame to the next, against the data's (fewer than in the data: a world that
slows down or stands still, as objects that move on hidden timers may in imagination).

    python scripts/reward_events.py RUN [--others 400] [--seed 0] [--json OUT.json]

A low probability with real next frames points at the reward/termination model; a high one there and a
low one with sampled frames points at the denoiser; high ones for both, with an agent that still does
not learn, point at the actor-critic. With another action, the probabilities say what the world model
believes would have happened had the agent acted differently: a model that shows an event only after the
very action it was recorded with (far fewer events with other actions than the game gives) shows a
policy that leaves the data's actions fewer rewards and fewer deaths than the game would.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diamond.data import EpisodeStore
from diamond.data.sampler import SegmentSampler, gather_segments
from diamond.errors import UserError
from diamond.imaging import to_model_range, to_uint8
from diamond.layout import AgentRun
from diamond.play.models import load_play_models
from diamond.rl.world_model_env import WorldModelEnv

TOLERANCE = 32  # 8-bit levels: a sampled pixel "equals" the real one within this
BATCH = 64  # transitions per model call
SOURCES = ("real", "sampled", "other_action")  # the next frames each transition is judged with


def transitions(store: EpisodeStore, context: int) -> dict[str, list[tuple[int, int]]]:
    """(episode, step) of every transition with a full context, by kind: rewarded, ended, other."""
    groups: dict[str, list[tuple[int, int]]] = {"rewarded": [], "ended": [], "other": []}
    for i in range(len(store)):
        episode = store.get(i)
        for t in range(context - 1, len(episode)):
            kind = "rewarded" if episode.rew[t] != 0 else "ended" if episode.end[t] else "other"
            groups[kind].append((i, t))
    return groups


def gather(store: EpisodeStore, items: list[tuple[int, int]], context: int) -> tuple[torch.Tensor, ...]:
    """Context frames (B, K, C, H, W) and actions ending at each item's step, and its real next frame."""
    ids, steps = np.array(items).T
    batch = gather_segments([store.get(int(i)) for i in ids], steps - context + 1, steps + 1, with_next_obs=True)
    assert batch.next_obs is not None
    return to_model_range(batch.obs), batch.act, to_model_range(batch.next_obs[:, -1])


@torch.no_grad()
def probabilities(models, store: EpisodeStore, items: list[tuple[int, int]], generator) -> dict[str, torch.Tensor]:
    """Per item: P(reward ≠ 0) and P(end) with the real and with a sampled next frame, and whether the
    sampled frame equals the real one."""
    context = models.denoiser.context_length
    out: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(items), BATCH):
        obs, act, real = gather(store, items[start : start + BATCH], context)
        _, _, state = models.rew_end(obs[:, :-1], act[:, :-1], obs[:, 1:])
        sampled, _ = models.denoiser.sample_next_obs(obs, act, models.cfg.sampler, generator=generator)
        other = act.clone()
        other[:, -1] = other_actions(act[:, -1], models.denoiser.action_space.size, generator)
        elsewhere, _ = models.denoiser.sample_next_obs(obs, other, models.cfg.sampler, generator=generator)
        for source, nxt, taken in (("real", real, act), ("sampled", sampled, act), ("other_action", elsewhere, other)):
            logits_rew, logits_end, _ = models.rew_end(obs[:, -1:], taken[:, -1:], nxt[:, None], state)
            out.setdefault(f"reward/{source}", []).append(1 - logits_rew[:, 0].softmax(-1)[:, 1])
            out.setdefault(f"end/{source}", []).append(logits_end[:, 0].softmax(-1)[:, 1])
        out.setdefault("equal", []).append(changed_pixels(to_uint8(real), to_uint8(sampled)) == 0)
    return {k: torch.cat(v) for k, v in out.items()}


@torch.no_grad()
def imagined_rates(models, store: EpisodeStore, envs: int, horizon: int, seed: int) -> dict[str, list[float]]:
    """Per imagined step (1..horizon): the share of ``envs`` imagined envs with a non-zero reward and with an
    end, and their mean number of changed pixels, under a uniformly random policy (an env that ends restarts
    from a new context, as in training)."""
    rng = np.random.default_rng(seed)
    sampler = SegmentSampler(store, rng)
    k = models.denoiser.context_length
    generator = torch.Generator().manual_seed(seed)
    env = WorldModelEnv(
        models.denoiser,
        models.rew_end,
        lambda n: sampler.sample(n, k, "end"),
        envs,
        horizon,
        models.cfg.sampler,
        generator,
    )
    previous, _ = env.reset()
    space = models.denoiser.action_space
    rates: dict[str, list[float]] = {"reward": [], "end": [], "changed_pixels": []}
    for _ in range(horizon):
        act = torch.randint(0, space.size, (envs,), generator=generator)
        obs, rew, end, _, info = env.step(act)
        rates["reward"].append(float((rew != 0).float().mean()))
        rates["end"].append(float(end.float().mean()))
        changed = changed_pixels(to_uint8(previous), to_uint8(info["final_obs"]))
        rates["changed_pixels"].append(float(changed.float().mean()))
        previous = obs
    return rates


def other_actions(act: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Per discrete action in ``act``, another one of the ``size`` actions, uniformly among the others."""
    if size < 2:
        raise ValueError(f"other_actions: an action space of {size} action(s) has no other action")
    shift = torch.randint(1, size, act.shape, generator=generator)
    return (act + shift) % size


def changed_pixels(frames: torch.Tensor | np.ndarray, next_frames: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Per pair of 8-bit frames (B, C, H, W): how many pixels differ by more than ``TOLERANCE`` levels in
    some channel."""
    difference = np.abs(np.asarray(next_frames, dtype=np.int32) - np.asarray(frames, dtype=np.int32))
    return torch.from_numpy((difference > TOLERANCE).any(1).reshape(len(difference), -1).sum(1))


def data_changed_pixels(store: EpisodeStore) -> float:
    """The mean number of pixels that change from one frame to the next within the replay data's episodes."""
    changed, total = 0, 0
    for i in range(len(store)):
        obs = store.get(i).obs
        changed += int(changed_pixels(obs[:-1], obs[1:]).sum())
        total += len(obs) - 1
    return changed / max(total, 1)


def summarise(groups: dict[str, list], found: dict[str, dict[str, torch.Tensor]], steps: int) -> dict[str, Any]:
    """Per group: means and shares above one half; over all transitions: implied reward and end rates."""
    report: dict[str, Any] = {"groups": {}}
    for kind, p in found.items():
        entry: dict[str, Any] = {"count": len(groups[kind]), "evaluated": len(p["equal"])}
        for key, values in p.items():
            entry[key] = {"mean": float(values.float().mean()), "above_half": float((values > 0.5).float().mean())}
        report["groups"][kind] = entry
    for what in ("reward", "end"):
        for source in SOURCES:
            total = sum(len(groups[k]) * report["groups"][k][f"{what}/{source}"]["mean"] for k in found)
            report[f"implied_{what}_rate/{source}"] = total / sum(len(groups[k]) for k in found)
    report["data_reward_rate"] = len(groups["rewarded"]) / sum(len(v) for v in groups.values())
    report["data_end_rate"] = len(groups["ended"]) / sum(len(v) for v in groups.values())
    report["steps"] = steps
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a `diamond train` run folder")
    parser.add_argument("--others", type=int, default=400, help="how many other transitions to sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--envs", type=int, default=2048, help="imagined envs of the rollouts")
    parser.add_argument("--horizon", type=int, default=15, help="steps of the rollouts")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    try:
        models = load_play_models(args.run)
        store = EpisodeStore.open(args.run / AgentRun.TRAIN_DATA, read_only=True)
    except UserError as exc:
        parser.error(str(exc))
    if models.rew_end is None or models.denoiser.action_space.kind != "discrete":
        parser.error(f"{args.run}: needs a `diamond train` run of a game with discrete actions")
    models.denoiser.eval()
    models.rew_end.eval()
    groups = transitions(store, models.denoiser.context_length)
    rng = np.random.default_rng(args.seed)
    others = groups["other"]
    picked = sorted(rng.choice(len(others), size=min(args.others, len(others)), replace=False).tolist())
    evaluated = {"rewarded": groups["rewarded"], "ended": groups["ended"], "other": [others[j] for j in picked]}
    generator = torch.Generator().manual_seed(args.seed)
    found = {k: probabilities(models, store, v, generator) for k, v in evaluated.items() if v}
    report = summarise(groups, found, store.num_steps)
    report["imagined"] = imagined_rates(models, store, args.envs, args.horizon, args.seed)
    report["data_changed_pixels"] = data_changed_pixels(store)
    print(f"{args.run}: {report['steps']:,} steps, rewards in {report['data_reward_rate']:.2%} of them")
    for kind, entry in report["groups"].items():
        print(f"{kind} ({entry['count']:,}, {entry['evaluated']:,} evaluated):")
        for source in SOURCES:
            r, e = entry[f"reward/{source}"], entry[f"end/{source}"]
            print(
                f"  {source:12s} next frame: P(reward) {r['mean']:.3f} (>1/2: {r['above_half']:.0%}), "
                f"P(end) {e['mean']:.3f} (>1/2: {e['above_half']:.0%})"
            )
        print(f"  sampled next frame equals the real one: {entry['equal']['mean']:.0%}")
    for what in ("reward", "end"):
        real, sampled, other = (report[f"implied_{what}_rate/{source}"] for source in SOURCES)
        print(
            f"implied {what} rate: {real:.2%} (real next frames), {sampled:.2%} (sampled), {other:.2%} (sampled "
            f"for another action); data: {report[f'data_{what}_rate']:.2%}"
        )
    imagined = report["imagined"]
    for what in ("reward", "end"):
        steps = " ".join(f"{x:.2%}" for x in imagined[what])
        mean = float(np.mean(imagined[what]))
        print(f"imagined {what} rate, random policy, {args.envs} envs: {mean:.2%} (per step: {steps})")
    steps = " ".join(f"{x:.2f}" for x in imagined["changed_pixels"])
    print(
        f"pixels that change per step: {report['data_changed_pixels']:.2f} in the data; imagined, random policy: "
        f"{float(np.mean(imagined['changed_pixels'])):.2f} (per step: {steps})"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
