"""DFXML export: the files walked and the jobs carved, with byte runs, as fiwalk users read them.

Element names, types and child order follow the DFXML schema (dfxml_schema's ``dfxml.xsd``,
version 1.1.x): ``<dfxml>`` holds ``<metadata>``, ``<creator>`` (program, version, execution
environment), ``<source>`` (image file names), then one ``<volume>`` per opened file system with
its ``<fileobject>``s, then top-level ``<fileobject>``s. Two conventions of ours, both within
the schema (see docs/report-schema.md):

* the first top-level ``<fileobject>`` is the evidence file itself — its name(s), size and the
  hashes computed while scanning — because DFXML 1.1's ``<source>`` only names image files;
* a job recovered by carving becomes a ``<fileobject>`` named ``$CarvedJobs/<job id>.<format>``
  with ``<unalloc>1</unalloc>``, its ``byte_runs`` in the image and its SHA-256.

The file is streamed (``XMLGenerator``): a million files never sit in memory. Strings from the
evidence may hold characters XML 1.0 cannot carry (ANSI escapes, NUL); they are written as
``\\xNN`` text so the file stays well-formed and the name stays readable and inert.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from xml.sax.xmlreader import AttributesImpl

from forensics import __version__
from forensics.report.base import (
    ReportOptions,
    ReportWriter,
    atomic_file,
    files,
    image_ids,
    image_run,
    per_image_path,
)
from forensics.report.common import volume_index
from forensics.store import CaseStore

DFXML_NS = "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML"
DC_NS = "http://purl.org/dc/elements/1.1/"
DFXML_VERSION = "1.1.1"

# XML 1.0 §2.2 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
# C1 controls (#x80-#x9F) are legal but are terminal escapes too, so they go the same way.
_NOT_XML_TEXT = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_HASH_TYPES = ("md5", "sha1", "sha256")


def xml_text(value: object) -> str:
    """``value`` as text XML 1.0 can carry; each character it cannot is written as ``\\xNN``."""
    return _NOT_XML_TEXT.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))


def _attrs(attrs: dict[str, object]) -> AttributesImpl:
    return AttributesImpl({k: xml_text(v) for k, v in attrs.items() if v is not None})


class _Xml:
    """A thin streaming writer: elements in the DFXML namespace, text made XML-safe."""

    def __init__(self, out: Any):
        # Imported here: xml.sax.saxutils imports urllib.request (http.client, ssl, email),
        # ~15 ms that every pfa command would pay at start-up for a writer few runs use.
        from xml.sax.saxutils import XMLGenerator

        self.gen = XMLGenerator(out, encoding="utf-8", short_empty_elements=True)
        self.depth = 0

    def _indent(self) -> None:
        self.gen.ignorableWhitespace("\n" + "  " * self.depth)

    @contextmanager
    def element(self, tag: str, /, **attrs: object) -> Iterator[None]:
        self._indent()
        self.gen.startElement(tag, _attrs(attrs))
        self.depth += 1
        yield
        self.depth -= 1
        self._indent()
        self.gen.endElement(tag)

    def leaf(self, tag: str, text: object, /, **attrs: object) -> None:
        if text is None:
            return
        self._indent()
        self.gen.startElement(tag, _attrs(attrs))
        self.gen.characters(xml_text(text))
        self.gen.endElement(tag)

    def empty(self, tag: str, /, **attrs: object) -> None:
        self._indent()
        self.gen.startElement(tag, _attrs(attrs))
        self.gen.endElement(tag)


def _dftime(value: str | None) -> str | None:
    """An ISO 8601 time as xs:dateTime (ours are already ``YYYY-MM-DDThh:mm:ss[.f]Z``)."""
    if not value or not re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?", value
    ):
        return None
    return value


def _byte_runs(xml: _Xml, runs: list[dict[str, Any]], fs_base: int | None) -> None:
    if not runs:
        return
    with xml.element("byte_runs"):
        for run in runs:
            img_offset = int(run["image_offset"])
            xml.empty(
                "byte_run",
                file_offset=int(run.get("file_offset") or 0),
                fs_offset=img_offset - fs_base
                if fs_base is not None and img_offset >= fs_base
                else None,
                img_offset=img_offset,
                len=int(run["length"]),
            )


class DfxmlWriter(ReportWriter):
    """``--format dfxml``: files and carved jobs with byte runs (one DFXML file per image)."""

    name = "dfxml"
    description = "DFXML: volumes, files and carved jobs with byte runs and hashes"
    default_name = "report.dfxml"

    def write(self, case: CaseStore, dest: Path, options: ReportOptions) -> list[Path]:
        covered = image_ids(case, options)
        written = []
        for image_id in covered:  # DFXML describes one source: one file per image
            path = per_image_path(dest, image_id, len(covered) > 1)
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_file(path) as tmp, tmp.open("w", encoding="utf-8") as out:
                self._write_image(case, image_id, out)
            written.append(path)
        return written

    def _write_image(self, case: CaseStore, image_id: int, out: Any) -> None:
        image = case.image(image_id)
        run = image_run(case, image_id)
        xml = _Xml(out)
        xml.gen.startDocument()
        xml.gen.startElement(
            "dfxml", _attrs({"xmlns": DFXML_NS, "xmlns:dc": DC_NS, "version": DFXML_VERSION})
        )
        xml.depth = 1
        with xml.element("metadata"):
            xml.leaf("dc:type", "Printer disk image: files and recovered print jobs")
        self._creator(xml, run)
        with xml.element("source"):
            for name in image.get("paths") or [image.get("path", "")]:
                xml.leaf("image_filename", name)
        volumes = {v["index"]: v for v in case.volumes(image_id)}
        filesystems = {fs["volume_index"]: fs for fs in case.filesystems(image_id)}
        jobs_by_volume, loose_jobs, whole_file_hashes = self._jobs(case, image_id, volumes)
        files_by_volume: dict[int, list[dict[str, Any]]] = {}
        for entry in files(case, image_id):
            files_by_volume.setdefault(int(entry["volume_index"]), []).append(entry)
        partition_number = {
            index: n
            for n, index in enumerate(
                sorted(i for i, v in volumes.items() if v.get("kind") == "partition"), start=1
            )
        }
        for index in sorted(filesystems):
            fs = filesystems[index]
            with xml.element("volume", offset=int(fs["offset"])):
                if int(fs["offset"]) > 0:
                    xml.leaf("partition_offset", int(fs["offset"]))
                xml.leaf("sector_size", int(image.get("sector_size") or 512))
                xml.leaf("block_size", int(fs["block_size"]) or None)
                xml.leaf("ftype_str", fs["type"])
                xml.leaf("block_count", int(fs["block_count"]) or None)
                for entry in files_by_volume.pop(index, []):
                    self._file(xml, entry, partition_number.get(index), fs, whole_file_hashes)
                for job in jobs_by_volume.pop(index, []):
                    self._carved(xml, job, partition_number.get(index), int(fs["offset"]))
        self._image_file(xml, image)
        for entries in files_by_volume.values():  # files of a volume no file system was kept for
            for entry in entries:
                self._file(xml, entry, None, None, whole_file_hashes)
        for jobs in jobs_by_volume.values():
            for job in jobs:
                self._carved(xml, job, None, None)
        for job in loose_jobs:
            self._carved(xml, job, None, None)
        xml.depth = 0
        xml._indent()
        xml.gen.endElement("dfxml")
        xml.gen.ignorableWhitespace("\n")
        xml.gen.endDocument()

    @staticmethod
    def _creator(xml: _Xml, run: dict[str, Any]) -> None:
        with xml.element("creator", version="1.0"):
            xml.leaf("program", "pfa (printer-forensics)")
            xml.leaf("version", run.get("tool_version") or __version__)
            with xml.element("build_environment"):
                xml.empty(
                    "library", name="python", version=run.get("python") or platform.python_version()
                )
                xml.empty("library", name="yara-rules-sha256", version=run.get("rules_sha256"))
            with xml.element("execution_environment"):
                uname = platform.uname()
                xml.leaf("os_sysname", uname.system)
                xml.leaf("os_release", uname.release)
                xml.leaf("host", run.get("host"))
                xml.leaf("arch", uname.machine)
                xml.leaf("command_line", run.get("command_line"))
                xml.leaf("start_time", _dftime(run.get("started")))

    @staticmethod
    def _jobs(
        case: CaseStore, image_id: int, volumes: dict[int, dict[str, Any]]
    ) -> tuple[
        dict[int, list[dict[str, Any]]],
        list[dict[str, Any]],
        dict[tuple[int, int], tuple[str, int]],
    ]:
        """Carved jobs by the volume that holds them; SHA-256 of jobs that are a whole file."""
        by_volume: dict[int, list[dict[str, Any]]] = {}
        loose: list[dict[str, Any]] = []
        whole_file: dict[tuple[int, int], tuple[str, int]] = {}
        for job in case.jobs(image_id):
            if job.get("parent_job_id"):
                continue
            if job.get("carved"):
                offset = job.get("image_offset")
                holder = next(
                    (
                        i
                        for i, v in volumes.items()
                        if offset is not None and v["offset"] <= offset < v["offset"] + v["length"]
                    ),
                    None,
                )
                (by_volume.setdefault(holder, []) if holder is not None else loose).append(job)
            elif job.get("inode") is not None and job.get("sha256") and not job.get("file_offset"):
                volume = volume_index(job)
                if volume is not None:
                    whole_file.setdefault(
                        (volume, int(job["inode"])), (job["sha256"], int(job.get("length") or -1))
                    )
        return by_volume, loose, whole_file

    @staticmethod
    def _file(
        xml: _Xml,
        entry: dict[str, Any],
        partition: int | None,
        fs: dict[str, Any] | None,
        hashes: dict[tuple[int, int], tuple[str, int]],
    ) -> None:
        with xml.element("fileobject"):
            xml.leaf("filename", entry["path"].lstrip("/") or "/")
            xml.leaf("partition", partition)
            kind = {"file": "r", "dir": "d"}.get(entry.get("kind", ""), "-")
            xml.leaf("name_type", kind)
            xml.leaf("filesize", int(entry.get("size") or 0))
            xml.leaf("alloc", 1 if entry.get("allocated") else 0)
            xml.leaf("inode", entry.get("inode"))
            for tag in ("mtime", "ctime", "atime", "crtime"):
                xml.leaf(tag, _dftime(entry.get(tag)))
            _byte_runs(xml, list(entry.get("runs") or ()), int(fs["offset"]) if fs else None)
            if entry.get("inode") is not None:
                # The job's SHA-256 is the file's only when the job is the whole file.
                digest, length = hashes.get(
                    (int(entry["volume_index"]), int(entry["inode"])), ("", -1)
                )
                if digest and length == int(entry.get("size") or 0):
                    xml.leaf("hashdigest", digest, type="sha256")

    @staticmethod
    def _carved(xml: _Xml, job: dict[str, Any], partition: int | None, fs_base: int | None) -> None:
        runs = list(job.get("byte_runs") or ())
        if not runs and job.get("image_offset") is not None and job.get("length"):
            runs = [{"image_offset": job["image_offset"], "length": job["length"]}]
        with xml.element("fileobject"):
            xml.leaf("filename", f"$CarvedJobs/{job['job_id']}.{job['format']}")
            xml.leaf("partition", partition)
            xml.leaf("name_type", "v")  # virtual: made by the tool, not named by the file system
            xml.leaf("filesize", job.get("length"))
            xml.leaf("unalloc", 1)
            _byte_runs(xml, runs, fs_base)
            xml.leaf("hashdigest", job.get("sha256"), type="sha256")

    @staticmethod
    def _image_file(xml: _Xml, image: dict[str, Any]) -> None:
        with xml.element("fileobject"):
            for name in image.get("paths") or []:
                xml.leaf("filename", name)
            xml.leaf("filesize", image.get("size"))
            hashes = image.get("hashes") or {}
            for kind in _HASH_TYPES:
                xml.leaf("hashdigest", hashes.get(kind), type=kind)
