"""Benchmark sweeps (games × seeds) on Hydra's multirun: a local launcher for one machine and the
submitit launcher for SLURM. ``launch.py`` validates and starts a sweep; ``app.py`` is the Hydra
application that runs (or resumes, or skips) one training run per job."""
