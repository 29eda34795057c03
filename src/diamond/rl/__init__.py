"""Reinforcement learning: λ-returns, the actor-critic loss and the world-model environment."""
