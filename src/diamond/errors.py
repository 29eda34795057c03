"""The exceptions that mean "bad input from the user" (reported as one clear line, exit status 2)."""

from diamond.data.store import StoreError
from diamond.envs.vector import EnvWorkerError

# ValueError covers ConfigError, CheckpointError and CorruptEpisodeFile; OSError covers unwritable paths.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, StoreError, EnvWorkerError, OSError)
