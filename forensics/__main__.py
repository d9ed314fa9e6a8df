"""``python -m forensics`` is ``pfa``."""

from __future__ import annotations

import sys

from forensics.cli import main

sys.exit(main())
