"""Group parsed job rows into print jobs; device artefacts; the timeline (docs/printjobs.md).

Grouping rules, in order; every link records the rule that made it:

1. *embedded*: a payload parsed out of a wrapper (PJL > PCL XL) belongs to its wrapper's job.
2. *spool pair*: files the spooler names as halves of one job (CUPS ``c00017``/``d00017-001``,
   LPD ``cfA017host``/``dfA017host``, ``00002.SHD``/``00002.SPL``).
3. *same content*: two top-level objects with the same SHA-256 (a copy in another folder, a
   carved copy that is not a byte-identical duplicate of a stored job's region).
4. *carved copy*: a carved object with the same user and job/document name as exactly one job
   found in a file. Byte-identical carved copies are links of the job they duplicate.
5. *log entry*: a page_log / job-log entry joins the one job with the same spool job number
   (and, where both say, the same user and printer), else the one job with the same name and
   user whose time is within ``TIME_TOLERANCE``. An entry that matches nothing is a job of its
   own with recoverable = "metadata only".
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from forensics.formats.base import registered_formats
from forensics.jobs import pair_key_from_name
from forensics.printjobs.fields import (
    TIME_FIELDS,
    job_fields,
    job_state,
    log_entry_fields,
    normalised,
)
from forensics.records import (
    Artefact,
    FieldValue,
    JobLink,
    PrintJob,
    Problem,
    TimelineEvent,
)
from forensics.store import CaseStore

log = logging.getLogger(__name__)

TIME_TOLERANCE = 15 * 60  # seconds between a log line and the job it names (queue + print time)
MAX_THUMBNAILS = 12
ROLE_ORDER = {"control": 0, "wrapper": 1, "content": 2, "log": 3}
LOCATION_ORDER = {"allocated": 0, "deleted": 1, "slack": 2, "unallocated": 3}
_NETWORK_KEY = re.compile(
    r"^\s*[\w.\-\[\] ]*(ip|dns|gateway|subnet|netmask|ssid|wifi|wlan|smtp|ldap|snmp|proxy|"
    r"server|host|domain|port|url|mac)[\w.\-\] ]*[:=]",
    re.I | re.M,
)
_TIME_DESCRIPTIONS = {
    "submitted": "Print job submitted",
    "printed": "Print job printed",
    "completed": "Print job completed",
    "document_created": "Document created",
}
# Groups of timeline events: at the same time, job events come before file events.
JOB_EVENTS, FILE_EVENTS = 0, 1
_FILE_TIMES = (
    ("mtime", "File modified"),
    ("atime", "File accessed"),
    ("ctime", "File metadata changed"),
    ("crtime", "File created"),
)


@dataclass
class _Group:
    """The artefacts of one print job while it is being built."""

    members: list[dict[str, Any]] = field(default_factory=list)  # job rows, top-level first
    reasons: dict[str, str] = field(default_factory=dict)  # job id → why it was linked
    entries: list[tuple[dict[str, Any], dict[str, Any], str]] = field(default_factory=list)


@dataclass
class Consolidated:
    print_jobs: list[PrintJob]
    artefacts: list[Artefact]
    events: list[TimelineEvent]


def _role(fmt: str) -> str:
    parser = registered_formats().get(fmt)
    return parser.role if parser is not None else "content"


def _artefact_kind(fmt: str) -> str:
    parser = registered_formats().get(fmt)
    return (parser.artefact_kind if parser is not None else None) or fmt


def _base_name(path: str | None) -> str | None:
    if not path:
        return None
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def seconds_of(stamp: Any) -> float | None:
    """Seconds since the epoch of an ISO 8601 time (a zone-less one is read as UTC)."""
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _load_rows(store: CaseStore, image_id: int) -> list[dict[str, Any]]:
    """The image's job rows without the bulky parts consolidation does not read (of the
    evidence address only its text is shown: the chain is half a row's bytes)."""
    rows = []
    for file_id, data in store.db.execute(
        "SELECT file_id,"
        " json_remove(data, '$.page_refs', '$.byte_runs', '$.texts', '$.address.chain')"
        " FROM jobs WHERE image_id = ? ORDER BY rowid",
        (image_id,),
    ):
        row = json.loads(data)
        row["_file_id"] = file_id
        row["_role"] = _role(str(row.get("format")))
        # What the row states, derived once: grouping, matching log entries and building the
        # print job each read it (a group's values several times per log entry).
        row["_fields"] = list(job_fields(row))
        rows.append(row)
    return rows


class _Union:
    """Union-find over job ids; the first id of a set stays its representative."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.order: dict[str, int] = {}

    def add(self, item: str) -> None:
        if item not in self.parent:
            self.parent[item] = item
            self.order[item] = len(self.order)

    def find(self, item: str) -> str:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: str, b: str) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if self.order[rb] < self.order[ra]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        return True


def _group_rows(
    rows: list[dict[str, Any]],
) -> tuple[list[_Group], list[dict[str, Any]]]:
    """Job rows → groups of one print job each; device artefact and log rows apart."""
    by_id = {str(row["job_id"]): row for row in rows}
    root_of: dict[str, str] = {}
    for row in rows:  # parents are stored before their payloads
        job_id = str(row["job_id"])
        parent = row.get("parent_job_id")
        root_of[job_id] = root_of.get(str(parent), str(parent)) if parent else job_id
    tops = [row for row in rows if not row.get("parent_job_id")]
    devices = [row for row in tops if row["_role"] in ("artefact", "log")]
    jobs = [row for row in tops if row["_role"] not in ("artefact", "log")]
    union = _Union()
    reasons: dict[str, str] = {}

    def link(a: str, b: str, reason: str) -> None:
        if a in union.parent and b in union.parent and union.union(a, b):
            for member in (b, a):
                if member not in reasons:
                    reasons[member] = reason
                    break

    for row in jobs:
        union.add(str(row["job_id"]))
    for row in jobs:  # rule 2: spool pairs
        for other in row.get("paired_with") or []:
            key = pair_key_from_name(_base_name(row.get("path"))) or "paired spool files"
            link(str(row["job_id"]), str(other), f"spool pair: same spool job ({key})")
    first_with_hash: dict[str, str] = {}
    for row in jobs:  # rule 3: same content
        digest = row.get("sha256")
        if not digest:
            continue
        if digest in first_with_hash:
            link(
                first_with_hash[digest],
                str(row["job_id"]),
                f"same content (SHA-256 {digest[:16]}…)",
            )
        else:
            first_with_hash[digest] = str(row["job_id"])
    named: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in jobs:  # rule 4: carved copies of a job found in a file
        if row.get("carved"):
            continue
        for name_key in _name_keys(row, by_id, root_of):
            named[name_key].add(union.find(str(row["job_id"])))
    for row in jobs:
        if not row.get("carved"):
            continue
        matches = {m for key in _name_keys(row, by_id, root_of) for m in named.get(key, ())}
        if len(matches) == 1:
            target = matches.pop()
            link(target, str(row["job_id"]), "carved copy: same user and job name")
    grouped: dict[str, _Group] = {}
    for row in jobs:
        group = grouped.setdefault(union.find(str(row["job_id"])), _Group())
        group.members.append(row)
        group.reasons[str(row["job_id"])] = reasons.get(str(row["job_id"]), "first artefact")
    for row in rows:  # rule 1: payloads follow their wrapper
        if row.get("parent_job_id"):
            root = root_of[str(row["job_id"])]
            if root in union.parent:
                group = grouped[union.find(root)]
                group.members.append(row)
                group.reasons[str(row["job_id"])] = f"embedded in {row['parent_job_id']}"
    return list(grouped.values()), devices


def _name_keys(
    row: dict[str, Any], by_id: dict[str, dict[str, Any]], root_of: dict[str, str]
) -> set[tuple[str, str]]:
    """(user, name) pairs the object states, for matching carved copies."""
    meta = row.get("metadata") or {}
    user = str(meta.get("user") or "").casefold()
    if not user:
        return set()
    names = {str(meta.get(key) or "").casefold() for key in ("job_name", "document_name")} - {""}
    return {(user, name) for name in names}


class _Matcher:
    """Finds the print job a log entry names (rule 5)."""

    def __init__(self, groups: list[_Group]):
        self.groups = groups
        self.by_number: dict[str, list[int]] = defaultdict(list)
        self.by_name: dict[str, list[int]] = defaultdict(list)
        for index, group in enumerate(groups):
            self.index(index, group)

    def index(self, index: int, group: _Group) -> None:
        numbers, names = set(), set()
        for name, value in _group_values(group):
            if name == "job_number":
                numbers.add(str(value).lstrip("0") or "0")
            elif name in ("job_name", "document_name"):
                names.add(normalised(name, _base_name(str(value)) or value))
        for number in numbers:
            self.by_number[number].append(index)
        for name in names:
            self.by_name[name].append(index)

    def match(self, entry: dict[str, Any]) -> tuple[int, str] | None:
        number = str(entry.get("job_id") or "").lstrip("0")
        if entry.get("job_id") is not None:
            number = number or "0"
            found = [i for i in self.by_number.get(number, []) if self._agrees(i, entry)]
            if len(set(found)) == 1:
                said = [k for k in ("user", "printer") if entry.get(k)]
                also = f" and {' and '.join(said)}" if said else ""
                return found[0], f"log entry: same job number {entry['job_id']}{also}"
        name = entry.get("job_name") or entry.get("document_name")
        when = seconds_of(entry.get("time"))
        if name and when is not None:
            key = normalised("job_name", _base_name(str(name)) or name)
            found = []
            for i in set(self.by_name.get(key, [])):
                if not self._agrees(i, entry, printer=False):
                    continue
                times = [
                    t
                    for n, v in _group_values(self.groups[i])
                    if n in TIME_FIELDS and (t := seconds_of(v)) is not None
                ]
                if times and min(abs(t - when) for t in times) <= TIME_TOLERANCE:
                    found.append(i)
            if len(found) == 1:
                return found[0], "log entry: same job name and user, time within 15 minutes"
        return None

    def _agrees(self, index: int, entry: dict[str, Any], printer: bool = True) -> bool:
        """Where the entry and the job both name a user (and printer), they are the same."""
        values = _group_values(self.groups[index])
        for key in ("user", "printer") if printer else ("user",):
            if not entry.get(key):
                continue
            known = {normalised(key, v) for n, v in values if n == key}
            if known and normalised(key, entry[key]) not in known:
                return False
        return True


def _group_values(group: _Group) -> list[tuple[str, Any]]:
    values = [(name, fv.value) for row in group.members for name, fv in row["_fields"]]
    for row, entry, _ in group.entries:
        values.extend((name, fv.value) for name, fv in log_entry_fields(row, entry))
    return values


def _attach_log_entries(groups: list[_Group], devices: list[dict[str, Any]]) -> dict[str, set[int]]:
    """Join log entries to the jobs they name; unmatched entries become jobs of their own.

    Returns the log artefact id → indexes of the groups its entries joined.
    """
    matcher = _Matcher(groups)
    joined: dict[str, set[int]] = defaultdict(set)
    for row in devices:
        if row["_role"] != "log":
            continue
        for entry in row.get("log_entries") or []:
            found = matcher.match(entry)
            if found is None:
                group = _Group()
                group.entries.append((row, entry, "log entry: no other artefact of this job"))
                groups.append(group)
                matcher.index(len(groups) - 1, group)
                joined[str(row["job_id"])].add(len(groups) - 1)
                continue
            index, reason = found
            groups[index].entries.append((row, entry, reason))
            joined[str(row["job_id"])].add(index)
    return joined


def _member_order(row: dict[str, Any]) -> tuple[int, int, int]:
    return (
        ROLE_ORDER.get(row["_role"], 2),
        LOCATION_ORDER.get(str(row.get("location_class")), 4) + (4 if row.get("carved") else 0),
        1 if row.get("parent_job_id") else 0,
    )


def _link(row: dict[str, Any], reason: str) -> JobLink:
    address = row.get("address")
    return JobLink(
        artefact_id=str(row["job_id"]),
        role=row["_role"],
        reason=reason,
        format=str(row.get("format")),
        format_chain=tuple(row.get("format_chain") or ()),
        location_class=row.get("location_class"),
        path=row.get("path"),
        inode=row.get("inode"),
        image_offset=row.get("image_offset"),
        length=row.get("length"),
        address=address.get("text") if isinstance(address, dict) else address,
        complete=row.get("complete"),
        carved=bool(row.get("carved")),
    )


@dataclass
class _Findings:
    """Findings of the image, indexed for counting a job's: by job id, file, image range."""

    severity: dict[int, tuple[str, str]]
    by_job: dict[str, list[int]]
    by_file: dict[int, list[int]]
    offsets: list[tuple[int, int]]  # (image offset, finding id), sorted

    @classmethod
    def load(cls, store: CaseStore, image_id: int) -> _Findings:
        severity: dict[int, tuple[str, str]] = {}
        by_job: dict[str, list[int]] = defaultdict(list)
        by_file: dict[int, list[int]] = defaultdict(list)
        offsets: list[tuple[int, int]] = []
        for finding_id, job_id, file_id, offset, sev, category in store.db.execute(
            "SELECT finding_id, job_id, file_id, image_offset, severity, category FROM findings"
            " WHERE image_id = ?",
            (image_id,),
        ):
            severity[finding_id] = (str(sev), str(category))
            if job_id is not None:
                by_job[str(job_id)].append(finding_id)
            elif file_id is not None:
                by_file[int(file_id)].append(finding_id)
            elif offset is not None:
                offsets.append((int(offset), finding_id))
        offsets.sort()
        return cls(severity, by_job, by_file, offsets)

    def of(self, rows: list[dict[str, Any]]) -> set[int]:
        found: set[int] = set()
        for row in rows:
            found.update(self.by_job.get(str(row["job_id"]), ()))
            if row.get("_file_id") is not None and not row.get("parent_job_id"):
                found.update(self.by_file.get(int(row["_file_id"]), ()))
            if row.get("carved") and row.get("image_offset") is not None and row.get("length"):
                start = int(row["image_offset"])
                lo = bisect.bisect_left(self.offsets, (start, -1))
                hi = bisect.bisect_left(self.offsets, (start + int(row["length"]), -1))
                found.update(fid for _, fid in self.offsets[lo:hi])
        return found

    def counts(self, ids: set[int]) -> tuple[dict[str, int], dict[str, int]]:
        severities = Counter(self.severity[i][0] for i in ids)
        categories = Counter(self.severity[i][1] for i in ids)
        return dict(sorted(severities.items())), dict(sorted(categories.items()))


def _build_print_job(group: _Group, findings: _Findings) -> PrintJob:
    members = sorted(group.members, key=_member_order)
    fields: dict[str, list[FieldValue]] = defaultdict(list)
    for row in members:
        for name, value in row["_fields"]:
            fields[name].append(value)
    for row, entry, _ in group.entries:
        for name, value in log_entry_fields(row, entry):
            fields[name].append(value)
    conflicts = tuple(
        sorted(
            name
            for name, values in fields.items()
            if len({normalised(name, v.value) for v in values}) > 1
        )
    )

    def first(name: str) -> Any:
        values = fields.get(name)
        return values[0].value if values else None

    links = [_link(row, group.reasons.get(str(row["job_id"]), "")) for row in members]
    for row in members:
        for copy in row.get("carved_copies") or []:
            links.append(
                JobLink(
                    artefact_id=f"{row['job_id']}@{copy.get('image_offset')}",
                    role="carved copy",
                    reason=f"byte-identical carved copy of {row['job_id']} (same SHA-256)",
                    format=str(row.get("format")),
                    location_class=copy.get("location_class"),
                    image_offset=copy.get("image_offset"),
                    length=copy.get("length"),
                    address=copy.get("address"),
                    complete=True,
                    carved=True,
                )
            )
        deleted = row.get("deleted_file")
        if deleted:
            links.append(
                JobLink(
                    artefact_id=f"inode {deleted.get('inode')}",
                    role="deleted file",
                    reason=f"carved content matched to the deleted file by its {deleted.get('matched_by')}",
                    format="file",
                    location_class="deleted",
                    path=deleted.get("path"),
                    inode=deleted.get("inode"),
                    length=deleted.get("size"),
                )
            )
    for row, entry, reason in group.entries:
        address = row.get("address")
        text = address.get("text") if isinstance(address, dict) else address
        links.append(
            JobLink(
                artefact_id=str(row["job_id"]),
                role="log",
                reason=reason,
                format=str(row.get("format")),
                location_class=row.get("location_class"),
                path=row.get("path"),
                inode=row.get("inode"),
                image_offset=None,
                address=f"{text} @ {entry.get('offset')}" if text else None,
                complete=row.get("complete"),
                carved=bool(row.get("carved")),
            )
        )
    content = [row for row in members if row["_role"] in ("content", "wrapper")]
    payload = [row for row in content if row["_role"] == "content"]
    if any(row.get("complete") for row in payload):
        recoverable = "complete"
    elif content:
        recoverable = "partial"
    else:
        recoverable = "metadata only"
    hold = first("hold")
    stated = [job_state(str(v.value)) for v in fields.get("state", [])]
    stated_state = next((s for s in stated if s), None)
    located = [row for row in members if row["_role"] != "log"]
    if stated_state:
        state = stated_state
    elif hold:
        state = "held"
    elif located and all(
        row.get("carved") or row.get("location_class") != "allocated" for row in located
    ):
        state = "deleted"
    elif group.entries:
        state = "printed"
    else:
        state = "spooled"  # found in the spool; nothing says it printed
    classes = sorted(
        {
            str(row.get("location_class")) + (" (carved)" if row.get("carved") else "")
            for row in located
        }
    )
    location = ", ".join(classes) if classes else "log only"
    ids = findings.of(members)
    severity, categories = findings.counts(ids)
    print_job_id = _build_id(group)
    when = first("submitted") or first("printed") or first("completed")
    thumbnails = [
        page for row in payload for page in row.get("rendered_pages") or [] if page.get("preview")
    ][:MAX_THUMBNAILS]
    main = members[0] if members else group.entries[0][0]
    main_address = main.get("address")
    return PrintJob(
        print_job_id=print_job_id,
        time=when,
        user=first("user"),
        host=first("host"),
        document=_document(fields),
        printer=first("printer"),
        pages=first("pages"),
        copies=first("copies"),
        state=state,
        recoverable=recoverable,
        location=location,
        artefacts=tuple(links),
        fields={name: tuple(values) for name, values in sorted(fields.items())},
        conflicts=conflicts,
        findings=severity,
        finding_categories=categories,
        pin_masked=first("pin_masked"),
        hold=hold,
        rendered_pages=tuple(thumbnails),
        address=main_address.get("text") if isinstance(main_address, dict) else main_address,
    )


def _document(fields: dict[str, list[FieldValue]]) -> Any:
    """The job's document: what the spooler or driver named it (control file, wrapper) before
    what the payload calls itself (a PDF's Title is often "Untitled"), a document name before a
    job name from the same kind of source."""
    named = [
        (ROLE_ORDER.get(_role(value.source.format), 2), rank, n, value.value)
        for rank, name in enumerate(("document_name", "job_name"))
        for n, value in enumerate(fields.get(name, []))
    ]
    return min(named)[3] if named else None


def _build_artefact(
    store: CaseStore, image_id: int, row: dict[str, Any], findings: _Findings, jobs: list[str]
) -> Artefact:
    meta = row.get("metadata") or {}
    extra = meta.get("extra") or {}
    holds: dict[str, int] = {}
    for key in ("contacts", "credentials", "sections", "records"):
        value = str(extra.get(key) or "")
        if value.isdigit() and int(value):
            holds[key] = int(value)
    if row.get("log_entries"):
        holds["job entries"] = len(row["log_entries"])
    if row["_role"] == "artefact" and row.get("format") == "config":
        network = 0
        for (text,) in store.db.execute(
            "SELECT text FROM job_texts WHERE image_id = ? AND job_id = ?",
            (image_id, row["job_id"]),
        ):
            network += len(_NETWORK_KEY.findall(str(text)))
        if network:
            holds["network settings"] = network
    severity, categories = findings.counts(findings.of([row]))
    if categories.get("credentials"):
        holds["credentials"] = max(holds.get("credentials", 0), categories["credentials"])
    kind = _artefact_kind(str(row.get("format")))
    summary = ", ".join(f"{n} {k}" for k, n in holds.items()) or "no records counted"
    address = row.get("address")
    return Artefact(
        artefact_id=str(row["job_id"]),
        kind=kind,
        format=str(row.get("format")),
        path=row.get("path"),
        location_class=str(row.get("location_class")),
        address=str(address.get("text") if isinstance(address, dict) else address),
        image_offset=row.get("image_offset"),
        length=row.get("length"),
        holds=holds,
        summary=f"{kind}: {summary}",
        findings=severity,
        complete=bool(row.get("complete", True)),
        print_jobs=tuple(sorted(jobs)),
        carved=bool(row.get("carved")),
    )


def _event(
    stamp: Any,
    desc: str,
    message: str,
    kind: str,
    **extra: Any,
) -> TimelineEvent | None:
    moment = _moment(stamp)
    if moment is None:
        return None
    return TimelineEvent(
        datetime=moment[0],
        timestamp=moment[1],
        timestamp_desc=desc,
        message=message,
        kind=kind,
        **extra,
    )


def _job_events(job: PrintJob) -> Iterator[TimelineEvent]:
    what = repr(job.document) if job.document else "a document"
    for name in TIME_FIELDS:
        seen: set[str] = set()
        for value in job.fields.get(name, ()):
            key = normalised(name, value.value)
            if key in seen:
                continue
            seen.add(key)
            zone = value.time_zone or "UTC"
            message = (
                f"{what}"
                + (f" by {job.user}" if job.user else "")
                + (f" from {job.host}" if job.host else "")
                + (f" on {job.printer}" if job.printer else "")
                + (f", {job.pages} pages" if job.pages else "")
                + f" [{value.source.format} {value.source.field}"
                + ("" if zone == "UTC" else f"; time zone {zone}")
                + "]"
            )
            event = _event(
                value.value,
                _TIME_DESCRIPTIONS[name],
                message,
                "log" if _role(value.source.format) == "log" else "print-job",
                address=value.source.address,
                print_job_id=job.print_job_id,
                artefact_id=value.source.artefact_id,
                source=f"{value.source.format} {value.source.field}",
                time_zone=zone,
            )
            if event is not None:
                yield event


_FILES_PER_BATCH = 256  # files whose time stamps are read (and staged) at a time
_FILE_BATCH_SQL = (
    "SELECT file_id, json_extract(data, '$.path'), json_extract(data, '$.inode'),"
    " json_extract(data, '$.allocated'), json_extract(data, '$.size'), "
    + ", ".join(f"json_extract(data, '$.{key}')" for key, _ in _FILE_TIMES)
    + " FROM files WHERE image_id = ? AND file_id > ? ORDER BY file_id LIMIT ?"
)


def _file_events(store: CaseStore, image_id: int) -> Iterator[TimelineEvent]:
    """A timeline event for each time stamp of each file (four a file at most)."""
    reader = _FileEventReader(store, image_id)
    while True:
        events = reader.next_batch()
        if events is None:
            return
        yield from events


class _FileEventReader:
    """An image's file timeline events, a batch of files at a time, in file order."""

    def __init__(self, store: CaseStore, image_id: int) -> None:
        self.store = store
        self.image_id = image_id
        self.last_file_id = -1
        # Printers stamp many files alike (a clock that was never set, files written in one
        # go): each distinct stamp is parsed once (a bounded memo, emptied when full).
        self.moments: dict[str, tuple[str, int] | None] = {}

    def next_batch(self) -> list[TimelineEvent] | None:
        """The events of the next _FILES_PER_BATCH files; None when every file was read."""
        rows = self.store.db.execute(
            _FILE_BATCH_SQL, (self.image_id, self.last_file_id, _FILES_PER_BATCH)
        ).fetchall()
        if not rows:
            return None
        self.last_file_id = rows[-1][0]
        moments = self.moments
        events: list[TimelineEvent] = []
        for _file_id, path, inode, allocated, size, *stamps in rows:
            message = f"{path}{'' if allocated else ' (deleted)'}, {size} bytes"
            for (key, desc), stamp in zip(_FILE_TIMES, stamps, strict=True):
                if stamp is None:
                    continue
                if stamp not in moments:
                    if len(moments) >= _MOMENTS_KEPT:
                        moments.clear()
                    moments[stamp] = _moment(stamp)
                moment = moments[stamp]
                if moment is None:
                    continue
                events.append(
                    TimelineEvent(
                        datetime=moment[0],
                        timestamp=moment[1],
                        timestamp_desc=desc,
                        message=message,
                        kind="file",
                        path=path,
                        inode=inode,
                        source=f"files.{key}",
                        time_zone="UTC",
                    )
                )
        return events


class FileEventStager:
    """Writes an image's file timeline events into the store ahead of consolidation, a batch
    of files at a time: a scan stages them while it waits on YARA, once the file systems are
    walked (the files table does not change after the walk), and consolidation then only adds
    the job events. The timeline comes out the same as when consolidation reads the files."""

    def __init__(self, store: CaseStore, image_id: int) -> None:
        self.store = store
        self.reader = _FileEventReader(store, image_id)
        self.done = False
        self.failed = False  # staging failed: consolidation reads the files itself
        self.staged = 0  # events staged
        store.clear_staged_timeline()

    def stage_some(self) -> bool:
        """Stage the next batch of files' events; whether there is more to stage."""
        if self.done or self.failed:
            return False
        try:
            events = self.reader.next_batch()
            if events is None:
                self.done = True
                return False
            self.store.stage_timeline(events, FILE_EVENTS)
            self.staged += len(events)
        except (sqlite3.Error, ValueError, TypeError) as exc:
            log.debug("staging file timeline events failed: %s", exc, exc_info=True)
            self.failed = True
            return False
        return True

    def finish(self) -> bool:
        """Stage what is left; whether every file's events are staged (and still there: a
        consolidation in between would have dropped them)."""
        while self.stage_some():
            pass
        if self.done and not self.failed:
            try:
                waiting = self.store.staged_timeline_events(FILE_EVENTS)
            except sqlite3.Error:
                log.debug("staged file timeline events not counted", exc_info=True)
                waiting = -1
            if waiting != self.staged:
                log.debug("%d file timeline events staged, %d found", self.staged, waiting)
                self.failed = True
        return self.done and not self.failed


_MOMENTS_KEPT = 65536


def _moment(stamp: Any) -> tuple[str, int] | None:
    """The event time (ISO 8601 UTC, microseconds) and its microseconds since the epoch."""
    seconds = seconds_of(stamp)
    if seconds is None:
        return None
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), round(seconds * 1_000_000)


def consolidate(store: CaseStore, image_id: int) -> Consolidated:
    """Print jobs, device artefacts and job timeline events of one image, from its store."""
    rows = _load_rows(store, image_id)
    groups, devices = _group_rows(rows)
    joined = _attach_log_entries(groups, devices)
    findings = _Findings.load(store, image_id)
    ids = [_build_id(group) for group in groups]
    jobs = [_build_print_job(group, findings) for group in groups]
    jobs.sort(key=lambda job: (job.time is None, job.time or "", job.print_job_id))
    artefacts = [
        _build_artefact(
            store, image_id, row, findings, [ids[i] for i in joined.get(str(row["job_id"]), ())]
        )
        for row in devices
    ]
    events = [event for job in jobs for event in _job_events(job)]
    return Consolidated(jobs, artefacts, events)


def _build_id(group: _Group) -> str:
    artefact_ids = sorted(
        [str(row["job_id"]) for row in group.members]
        + [f"{row['job_id']}#{entry.get('offset')}" for row, entry, _ in group.entries]
    )
    return "P" + hashlib.sha256("|".join(artefact_ids).encode()).hexdigest()[:12]


def consolidate_into_store(
    store: CaseStore, image_id: int, staged: FileEventStager | None = None
) -> Consolidated:
    """Consolidate one image and (re)write its print_jobs, artefacts and timeline tables.

    ``staged``: the image's file events were staged ahead (FileEventStager); the rest of them
    is staged now. Without it (or if staging failed) they are read from the files here."""
    result = consolidate(store, image_id)
    file_events_staged = staged is not None and staged.finish()
    events: dict[int, Iterable[TimelineEvent]] = {JOB_EVENTS: result.events}
    if not file_events_staged:
        events[FILE_EVENTS] = _file_events(store, image_id)
    store.replace_consolidated(
        image_id, result.print_jobs, result.artefacts, events, file_events_staged
    )
    return result


def consolidate_or_problem(
    store: CaseStore, image_id: int, staged: FileEventStager | None = None
) -> Problem | None:
    """Consolidate at the end of a scan; a failure is a Problem, never the end of the run."""
    try:
        consolidate_into_store(store, image_id, staged)
    except (sqlite3.Error, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.debug("consolidating print jobs failed", exc_info=True)
        return Problem(
            "consolidation-failed",
            f"print jobs could not be consolidated ({type(exc).__name__}: {exc}); "
            "the parsed jobs are in the case",
            "error",
        )
    return None
