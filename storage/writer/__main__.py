"""``python -m storage.writer``: see ``storage.writer.process``."""

from storage.writer.process import main

raise SystemExit(main())
