"""Pictures of an agent run: the learning curve, the agent in the real game, the agent in imagination."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from diamond.evaluation.imagination import write_video
from diamond.imaging import to_uint8


def plot_learning_curve(results: dict[str, Any], path: str | Path) -> Path:
    """Test returns over agent steps, the final mean with its 95% CI, and the random policy's band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(7, 4))
    hist = results["test_history"]
    if hist:
        x = [h["agent_steps"] for h in hist]
        ax.plot(x, [h["mean_return"] for h in hist], "o-", label="test return (mean of the evaluation's episodes)")
        for h in hist:
            ax.scatter([h["agent_steps"]] * len(h["returns"]), h["returns"], s=6, color="tab:blue", alpha=0.3)
    final = results["final"]
    steps = results["agent_steps"]
    ax.errorbar(
        [steps],
        [final["mean_return"]],
        yerr=[[final["mean_return"] - final["ci95"][0]], [final["ci95"][1] - final["mean_return"]]],
        fmt="s",
        color="tab:green",
        capsize=4,
        label=f"final: {final['episodes']} episodes, 95% CI",
    )
    if "random" in results:
        r = results["random"]
        ax.axhspan(
            r["ci95"][0],
            r["ci95"][1],
            color="tab:red",
            alpha=0.2,
            label=f"uniformly random policy, 95% CI ({r['episodes']} episodes)",
        )
    ax.set_xlabel("agent steps (real environment)")
    ax.set_ylabel("episode return")
    ax.set_title(f"{results['env']} {results['game']}" + (" (model-free)" if results["model_free"] else ""))
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _upscale(frame_chw: np.ndarray, scale: int) -> np.ndarray:
    return np.repeat(np.repeat(frame_chw.transpose(1, 2, 0), scale, axis=0), scale, axis=1)


def real_game_video(episodes, path: str | Path, max_frames: int = 1000) -> Path:
    """The first stored test episode, frame by frame."""
    episode = episodes.get(0)
    frames = [*episode.obs[:max_frames], episode.final_obs]
    scale = max(1, 256 // frames[0].shape[-1])
    return write_video([_upscale(f, scale) for f in frames], path)


@torch.no_grad()
def imagination_video(agent, sampler, path: str | Path, num_envs: int = 8, repeats: int = 2) -> Path:
    """The policy acting in the world model: ``num_envs`` imagined rollouts side by side."""
    env = agent.world_model_env(sampler, num_envs=num_envs)
    runner = agent.rollout_runner(env, keep_obs=True)
    agent.actor_critic.eval()
    chunks = []
    for _ in range(repeats):
        rollout = runner.rollout(agent.cfg.actor_critic_training.imagination.horizon)
        chunks.append(to_uint8(rollout.obs[:, :-1]).cpu().numpy())
    obs = np.concatenate(chunks, axis=1)  # (N, T, C, H, W)
    scale = max(1, 128 // obs.shape[-1])
    frames = [
        np.concatenate([_upscale(obs[i, t], scale) for i in range(obs.shape[0])], axis=1) for t in range(obs.shape[1])
    ]
    return write_video(frames, path, fps=8)
