"""The Atari 100k benchmark: the paper's reference scores, run folders as score tables, the rliable
statistics and the paper-style report (``diamond report``)."""
