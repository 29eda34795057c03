"""``python -m diamond.cli``: the ``diamond`` command (what torchrun and the bootstrap launch)."""

from diamond.cli import main

raise SystemExit(main())
