"""``python -m edge`` is ``klyuch``."""

from edge.cli import main

raise SystemExit(main())
