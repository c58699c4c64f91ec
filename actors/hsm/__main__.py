"""``python -m actors.hsm`` runs a unit, like ``python -m actors.hsm.unit``."""

import sys

from actors.hsm.unit import main

sys.exit(main())
