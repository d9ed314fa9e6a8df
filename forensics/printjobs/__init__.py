"""Print jobs as examiners count them, device artefacts, and the timeline (docs/printjobs.md).

The job layer stores one row per parsed object (a PJL wrapper, its PCL payload, a CUPS control
file, a carved copy, a page_log). :func:`consolidate` groups those rows into
:class:`~forensics.records.PrintJob` records, turns address books, configuration and logs into
:class:`~forensics.records.Artefact` records, and collects every recovered timestamp into
:class:`~forensics.records.TimelineEvent` records. It reads only the case store, so it runs at
the end of a scan and again on any case (``pfa jobs`` and ``pfa report`` never read the image).
"""

from __future__ import annotations

from forensics.printjobs.consolidate import (
    Consolidated,
    FileEventStager,
    consolidate,
    consolidate_into_store,
    consolidate_or_problem,
)

__all__ = [
    "Consolidated",
    "FileEventStager",
    "consolidate",
    "consolidate_into_store",
    "consolidate_or_problem",
]
