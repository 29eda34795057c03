"""`diamond import-hdf5` slowed down so that a test can SIGKILL it between two store writes.

Usage: python import_kill_driver.py SECONDS import-hdf5 ARGS... Every EpisodeStore.add sleeps SECONDS after
it returns, so a kill that follows an index update lands before the next add or the manifest update
(spec §10 import: crash safety). Everything else is the real command.
"""

from __future__ import annotations

import sys
import time

from diamond import cli
from diamond.data.episode import Episode
from diamond.data.store import EpisodeStore

_add = EpisodeStore.add


def slow_add(self: EpisodeStore, episode: Episode) -> int:
    episode_id = _add(self, episode)
    time.sleep(float(sys.argv[1]))
    return episode_id


if __name__ == "__main__":
    EpisodeStore.add = slow_add
    raise SystemExit(cli.main(sys.argv[2:]))
