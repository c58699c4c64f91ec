"""``python -m bench ...`` is ``klyuch bench ...``."""

import sys

from bench import main

raise SystemExit(main(sys.argv[1:]))
