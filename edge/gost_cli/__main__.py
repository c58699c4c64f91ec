"""``python -m edge.gost_cli`` is ``klyuch gost``."""

import sys

from edge.gost_cli import main

raise SystemExit(main(sys.argv[1:]))
