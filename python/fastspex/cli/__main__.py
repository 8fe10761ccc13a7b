"""``python -m fastspex.cli``."""

import sys

from . import main

sys.exit(main())
