"""``python -m edge.device_cli``: ``klyuch device`` without the top-level command line."""

import sys

from edge.device_cli import main

sys.exit(main())
