"""``pfa batch``: many images, one case, resumable; local process pool or a Dask cluster.

Discovery (``discover``) turns a folder or a manifest into work units, one per image; each unit
scans into a temporary case database in a worker (``unit``), and only the coordinator
(``coordinator``) writes the batch case, one transaction per image (docs/batch.md).
"""

from __future__ import annotations
