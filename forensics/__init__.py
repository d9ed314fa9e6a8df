"""printer-forensics: recover print jobs and secrets from printer and copier disk images."""

from __future__ import annotations

__version__ = "0.1.0"
