"""Benchmarks: the Atari 100k report (the paper's reference scores, run folders as score tables, the
rliable statistics and the paper-style report, ``diamond report``) and the speed of the world model
(``diamond bench``, ``speed.py``)."""
