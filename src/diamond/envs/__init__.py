"""Real environments behind one small interface (spec §2): the Atari 100k protocol, MinAtar, Gymnasium pixels.

MinAtar is optional and imported only when a MinAtar env is built, so this import never needs it.
"""

from diamond.envs.atari import ENV_KINDS, AtariConfig, AtariEnv, life_loss_is_terminal, make_atari_env
from diamond.envs.base import Env, VectorEnv
from diamond.envs.games import ATARI_100K_GAMES, MINATAR_GAMES, atari_env_id, validate_atari_game
from diamond.envs.gym_pixels import GymPixelConfig, GymPixelEnv, make_gym_pixel_env
from diamond.envs.minatar import MinAtarConfig, MinAtarEnv, make_minatar_env
from diamond.envs.vector import EnvWorkerError, SubprocVectorEnv, SyncVectorEnv, make_vector_env

__all__ = [
    "ATARI_100K_GAMES",
    "ENV_KINDS",
    "MINATAR_GAMES",
    "AtariConfig",
    "AtariEnv",
    "Env",
    "EnvWorkerError",
    "GymPixelConfig",
    "GymPixelEnv",
    "MinAtarConfig",
    "MinAtarEnv",
    "SubprocVectorEnv",
    "SyncVectorEnv",
    "VectorEnv",
    "atari_env_id",
    "life_loss_is_terminal",
    "make_atari_env",
    "make_gym_pixel_env",
    "make_minatar_env",
    "make_vector_env",
    "validate_atari_game",
]
