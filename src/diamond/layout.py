"""What a run folder holds, named once: every package that writes or reads a run folder uses these names.

Paths are relative to the run folder (``run_dir / AgentRun.RESULTS``). This module imports nothing, so any
layer may use it.
"""

from __future__ import annotations


class AgentRun:
    """A ``diamond train`` run folder (spec §1)."""

    CONFIG = "config.json"  # the resolved configuration
    PROTOCOL = "protocol.json"  # the environment protocol the data was collected under
    TRAIN_DATA = "data/train"  # the replay data (episode store)
    CHECKPOINT = "checkpoints/agent.pt"  # the full state, rewritten atomically each epoch
    SNAPSHOTS = "agents"  # actor-critic snapshots at each evaluation
    METRICS = "metrics.jsonl"  # one line per epoch
    TENSORBOARD = "tensorboard"
    RESULTS = "results.json"  # final test returns; written last, so its presence means "finished"
    LEARNING_CURVE = "learning_curve.png"
    REAL_GAME_VIDEO = "videos/real_game.mp4"
    IMAGINATION_VIDEO = "videos/imagination.mp4"

    @staticmethod
    def snapshot(epoch: int) -> str:
        """The actor-critic snapshot written at the evaluation of ``epoch``."""
        return f"{AgentRun.SNAPSHOTS}/epoch_{epoch:05d}.pt"

    @staticmethod
    def top_level_names() -> frozenset[str]:
        """The names a run folder holds directly: the first part of each path above."""
        return frozenset(v.split("/")[0] for k, v in vars(AgentRun).items() if k.isupper() and isinstance(v, str))


class WorldModelRun:
    """A ``diamond train-world-model`` run folder."""

    CONFIG = "config.json"
    CHECKPOINT = "checkpoints/world_model.pt"  # rewritten atomically every checkpoint_every steps and at the end
    METRICS = "metrics.jsonl"  # one line per evaluation
    TENSORBOARD = "tensorboard"
    RESULTS = "world_model_results.json"


class WorldModelDemo:
    """The folder of ``diamond world-model-demo``: data, a world-model run, imagination, a summary."""

    TRAIN_DATA = "data/train"
    TEST_DATA = "data/test"
    WORLD_MODEL = "world_model"  # a WorldModelRun folder
    IMAGINATION = "imagination"  # an ImaginationOutput folder
    SUMMARY = "summary.json"
    DATA_ARGUMENTS = "data.json"  # the --env, --game and --seed the data was collected with


class ImaginationOutput:
    """The folder of ``diamond imagine``."""

    VIDEO = "imagination.mp4"
    PSNR_PLOT = "imagination_psnr.png"
    RESULTS = "imagination.json"


class EngineRun:
    """A ``diamond train-engine`` run folder (spec §10)."""

    CONFIG = "config.json"
    CHECKPOINT = "checkpoints/engine.pt"  # the full state, rewritten atomically every epoch
    METRICS = "metrics.jsonl"  # one line per epoch
    TENSORBOARD = "tensorboard"
    EVALUATION = "evaluation"  # one folder per evaluation: evaluation/epoch_00010/
    RESULTS = "engine_results.json"  # the final evaluation; written last, so its presence means "finished"

    @staticmethod
    def evaluation(epoch: int) -> str:
        return f"{EngineRun.EVALUATION}/epoch_{epoch:05d}"


class EngineEvaluation:
    """One evaluation of an engine on held-out data: numbers, the rollout video and the figures."""

    RESULTS = "evaluation.json"
    ROLLOUT_VIDEO = "rollout_real_vs_imagined.mp4"
    PSNR_PLOT = "rollout_psnr.png"
    ACTION_SENSITIVITY = "action_sensitivity.png"


class StaticDataset:
    """The folder of ``diamond import-hdf5``: a static dataset as four episode stores (spec §10)."""

    SPLITS = ("train", "test")
    RESOLUTIONS = ("low_res", "full_res")
    DESCRIPTION = "dataset.json"  # written first: marks the folder as a dataset and records its split
    IMPORTED = "imported.json"  # the source files in each split's stores, in store order (see static_import.py)
    SKIPPED = "skipped.json"  # the source files that were not imported, with the reason

    @staticmethod
    def store(split: str, resolution: str) -> str:
        """The episode store of one split at one resolution, e.g. ``train/low_res``."""
        if split not in StaticDataset.SPLITS or resolution not in StaticDataset.RESOLUTIONS:
            raise ValueError(
                f"no store {split}/{resolution} in a static dataset: splits {StaticDataset.SPLITS}, "
                f"resolutions {StaticDataset.RESOLUTIONS}"
            )
        return f"{split}/{resolution}"


class StudyRun:
    """The folder of a ``diamond study`` command (spec §9): expert data, the compared world models, outputs."""

    MODEL_EDM = "edm"  # a WorldModelRun folder
    MODEL_DDPM = "ddpm"  # a WorldModelRun folder
    CONFIG = "study_config.json"  # the study's configuration, fixed at the first run
    MEASUREMENTS = "measurements"  # one JSON (and NPZ of figure frames) per measured setting, for resuming
    RESULTS = "results.json"  # every number of the study; written last
    GRID = "figure_grid.png"
    ROLLOUTS = "figure_rollouts.png"
    CURVES = "figure_curves.png"
    SHARPNESS = "figure_sharpness.png"

    @staticmethod
    def data(split: str) -> str:
        return f"data/{split}"

    @staticmethod
    def expert_scores(split: str) -> str:
        """The expert's returns over the complete games of a split, recorded as it collects."""
        return f"data/{split}_expert.json"

    @staticmethod
    def measurement(model: str, denoising_steps: int) -> str:
        return f"{StudyRun.MEASUREMENTS}/{model}_n{denoising_steps:02d}"
