"""CASE/UCO export: the scan as a JSON-LD graph other forensic tools can merge (CASE 1.x).

The graph holds the tool, one investigative action per image (instrument: the tool; object: the
image; results: what was recovered), the image with its hashes, its partitions, the files walked,
the jobs recovered and the findings, each tied to where it lies by a ``Contained_Within``
relationship carrying ``DataRangeFacet``s (offset and size in the image, or in the containing
file or job). Class and property names are CASE 1.5 / UCO 1.x (ontology.caseontology.org,
ontology.unifiedcyberontology.org); the test suite validates exports with ``case_validate``.

Identifiers are deterministic: a UUIDv5 over the image's SHA-256 (or, for a case scanned with
``--no-hash``, its paths and size) and the object's own key — the job id, the file's volume and
inode, the finding's offset and rule. Scanning the same image again gives the same node ids; only
the action's start and end times differ. Finding values appear masked (and as the SHA-256 of the
value) unless the case was scanned with ``--reveal``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from forensics import __version__
from forensics.report.base import (
    ReportOptions,
    ReportWriter,
    atomic_file,
    files,
    image_ids,
    image_run,
)
from forensics.report.common import volume_index
from forensics.store import CaseStore

CONTEXT = {
    "kb": "http://example.org/kb/",
    "case-investigation": "https://ontology.caseontology.org/case/investigation/",
    "uco-action": "https://ontology.unifiedcyberontology.org/uco/action/",
    "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
    "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
    "uco-tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
    "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
    "uco-vocabulary": "https://ontology.unifiedcyberontology.org/uco/vocabulary/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
# The namespace of every pfa node id (UUIDv5, RFC 9562 §5.5): fixed, so ids are reproducible.
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://printer-forensics.invalid/case-uco")
# UCO HashNameVocab spellings (types:Hash-hashMethod-in-shape).
_HASH_NAMES = {"md5": "MD5", "sha1": "SHA1", "sha256": "SHA256"}
_TOOL_KEY = f"tool/printer-forensics/{__version__}"


def node_id(kind: str, *key: object) -> str:
    """A deterministic node IRI (compact ``kb:`` form) for ``kind`` and its key parts."""
    return f"kb:{kind}-{uuid.uuid5(_ID_NAMESPACE, '/'.join(str(k) for k in key))}"


def _datetime(value: str | None) -> dict[str, str] | None:
    return {"@type": "xsd:dateTime", "@value": value} if value else None


def _hash(method: str, value: str) -> dict[str, Any]:
    return {
        "@id": node_id("hash", method, value),
        "@type": "uco-types:Hash",
        # UCO 1.4+: a plain xsd:string from the HashNameVocab list (typed literals are deprecated).
        "uco-types:hashMethod": _HASH_NAMES.get(method, method.upper()),
        "uco-types:hashValue": {"@type": "xsd:hexBinary", "@value": value.lower()},
    }


def _ranges(owner: str, runs: list[tuple[int, int]]) -> list[dict[str, Any]]:
    return [
        {
            "@id": node_id("range", owner, n),
            "@type": "uco-observable:DataRangeFacet",
            "uco-observable:rangeOffset": offset,
            "uco-observable:rangeSize": length,
        }
        for n, (offset, length) in enumerate(runs)
    ]


def _contained(source: str, target: str, runs: list[tuple[int, int]]) -> dict[str, Any]:
    rel = node_id("relationship", source, target)
    node: dict[str, Any] = {
        "@id": rel,
        "@type": "uco-observable:ObservableRelationship",
        "uco-core:source": {"@id": source},
        "uco-core:target": {"@id": target},
        "uco-core:kindOfRelationship": "Contained_Within",
        "uco-core:isDirectional": True,
    }
    if runs:
        node["uco-core:hasFacet"] = _ranges(rel, runs)
    return node


def _clean(node: dict[str, Any]) -> dict[str, Any]:
    """Drop empty properties (a JSON-LD null or [] says nothing and some validators object)."""
    return {k: v for k, v in node.items() if v not in (None, [], "")}


class CaseUcoWriter(ReportWriter):
    """``--format case``: a CASE/UCO JSON-LD graph of the case (validated by case_validate)."""

    name = "case"
    description = (
        "CASE/UCO JSON-LD: tool, action, image with hashes, files, jobs, print jobs, findings"
    )
    default_name = "report.case.jsonld"

    def write(self, case: CaseStore, dest: Path, options: ReportOptions) -> list[Path]:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(dest) as tmp, tmp.open("w", encoding="utf-8") as out:
            out.write('{\n"@context": ')
            out.write(json.dumps(CONTEXT, sort_keys=True))
            out.write(',\n"@graph": [\n')
            first = True
            for node in self._graph(case, image_ids(case, options)):
                if not first:
                    out.write(",\n")
                out.write(json.dumps(_clean(node), ensure_ascii=False, sort_keys=True))
                first = False
            out.write("\n]\n}\n")
        return [dest]

    def _graph(self, case: CaseStore, image_ids: list[int]) -> Iterator[dict[str, Any]]:
        tool = node_id("tool", _TOOL_KEY)
        yield {
            "@id": tool,
            "@type": "uco-tool:Tool",
            "uco-core:name": "pfa (printer-forensics)",
            "uco-tool:version": __version__,
            "uco-tool:toolType": "Printer and copier disk forensics",
        }
        for image_id in image_ids:
            yield from self._image(case, image_id, tool)

    def _image(self, case: CaseStore, image_id: int, tool: str) -> Iterator[dict[str, Any]]:
        image = case.image(image_id)
        run = image_run(case, image_id)
        hashes = image.get("hashes") or {}
        key = hashes.get("sha256") or "|".join([*image.get("paths", []), str(image.get("size"))])
        image_node = node_id("image", key)
        names = image.get("paths") or []
        yield {
            "@id": image_node,
            "@type": "uco-observable:Image",
            "uco-core:name": Path(names[0]).name if names else None,
            "uco-core:description": f"{image.get('format', 'raw')} image: " + ", ".join(names),
            "uco-core:hasFacet": [
                {
                    "@id": node_id("image-facet", key),
                    "@type": "uco-observable:ImageFacet",
                    "uco-observable:imageType": image.get("format"),
                },
                {
                    "@id": node_id("content", key),
                    "@type": "uco-observable:ContentDataFacet",
                    "uco-observable:sizeInBytes": image.get("size"),
                    "uco-observable:hash": [
                        _hash(method, hashes[method]) for method in sorted(hashes) if hashes[method]
                    ],
                },
            ],
        }
        results: list[str] = []
        partitions: dict[int, str] = {}
        for volume in case.volumes(image_id):
            if volume.get("kind") != "partition":
                continue
            part = node_id("partition", key, volume["index"])
            partitions[int(volume["index"])] = part
            results.append(part)
            yield {
                "@id": part,
                "@type": "uco-observable:DiskPartition",
                "uco-core:name": f"partition {volume.get('slot') or volume['index']}",
                "uco-core:description": volume.get("description"),
                "uco-core:hasFacet": [
                    _clean(
                        {
                            "@id": node_id("partition-facet", key, volume["index"]),
                            "@type": "uco-observable:DiskPartitionFacet",
                            "uco-observable:partitionOffset": volume["offset"],
                            "uco-observable:partitionLength": volume["length"],
                            "uco-observable:diskPartitionType": volume.get("type_code"),
                            "uco-observable:partitionID": volume.get("slot"),
                        }
                    )
                ],
            }
            yield _contained(part, image_node, [(volume["offset"], volume["length"])])
        file_nodes: dict[tuple[int, int], str] = {}
        for entry in files(case, image_id):
            node = node_id("file", key, entry["volume_index"], entry.get("inode"), entry["path"])
            if entry.get("inode") is not None:
                file_nodes.setdefault((int(entry["volume_index"]), int(entry["inode"])), node)
            results.append(node)
            yield self._file(node, entry)
            runs = [(r["image_offset"], r["length"]) for r in entry.get("runs") or ()]
            yield _contained(node, image_node, runs)
            if int(entry["volume_index"]) in partitions:
                yield _contained(node, partitions[int(entry["volume_index"])], [])
        for job in case.jobs(image_id):
            node = node_id("job", key, job["job_id"])
            results.append(node)
            yield from self._job(node, key, job, image_node, file_nodes)
        for print_job in case.print_jobs(image_id):
            grouping = self._print_job(key, print_job)
            if grouping is not None:
                results.append(grouping["@id"])
                yield grouping
        for n, finding in enumerate(case.findings(image_id)):
            node = node_id("finding", key, finding.get("image_offset"), finding["rule"], n)
            results.append(node)
            yield from self._finding(node, key, finding, image_node)
        yield {
            # Same image, same tool and rules: the same action node (its times tell the runs apart).
            "@id": node_id("action", key, _TOOL_KEY, run.get("rules_sha256")),
            "@type": "case-investigation:InvestigativeAction",
            "uco-core:name": "pfa scan",
            "uco-core:description": (
                f"verdict {image.get('verdict')}: " + "; ".join(image.get("verdict_reasons") or [])
            ),
            "uco-action:startTime": _datetime(image.get("started") or run.get("started")),
            "uco-action:endTime": _datetime(image.get("finished") or run.get("finished")),
            "uco-action:instrument": {"@id": tool},
            "uco-action:object": [{"@id": image_node}],
            "uco-action:result": [{"@id": r} for r in results],
        }

    @staticmethod
    def _print_job(key: str, job: dict[str, Any]) -> dict[str, Any] | None:
        """A print job as examiners count it: a Grouping of the job objects it consolidates
        (docs/printjobs.md), described by who printed what, when, and what is left of it."""
        members = sorted(
            {
                node_id("job", key, link["artefact_id"])
                for link in job.get("artefacts") or ()
                if link.get("role") in ("control", "wrapper", "content", "log")
            }
        )
        if not members:
            return None
        said = [
            f"{name} {job[name]}"
            for name in ("user", "host", "document", "printer", "time", "pages")
            if job.get(name) not in (None, "")
        ]
        return {
            "@id": node_id("print-job", key, job["print_job_id"]),
            "@type": "uco-core:Grouping",
            "uco-core:name": f"print job {job['print_job_id']}",
            "uco-core:description": "; ".join(
                [*said, f"state {job.get('state')}", f"recoverable {job.get('recoverable')}"]
            ),
            "uco-core:tag": ["print job", str(job.get("state")), str(job.get("recoverable"))],
            "uco-core:object": [{"@id": member} for member in members],
        }

    @staticmethod
    def _file(node: str, entry: dict[str, Any]) -> dict[str, Any]:
        path = entry["path"]
        facet = {
            "@id": node_id("file-facet", node),
            "@type": "uco-observable:FileFacet",
            "uco-observable:fileName": path.rsplit("/", 1)[-1] or "/",
            "uco-observable:filePath": path,
            "uco-observable:sizeInBytes": entry.get("size"),
            "uco-observable:isDirectory": entry.get("kind") == "dir",
            "uco-observable:allocationStatus": "allocated" if entry.get("allocated") else "deleted",
            "uco-observable:modifiedTime": _datetime(entry.get("mtime")),
            "uco-observable:accessedTime": _datetime(entry.get("atime")),
            "uco-observable:metadataChangeTime": _datetime(entry.get("ctime")),
            "uco-observable:observableCreatedTime": _datetime(entry.get("crtime")),
        }
        return {"@id": node, "@type": "uco-observable:File", "uco-core:hasFacet": [_clean(facet)]}

    @staticmethod
    def _job(
        node: str,
        key: str,
        job: dict[str, Any],
        image_node: str,
        files: dict[tuple[int, int], str],
    ) -> Iterator[dict[str, Any]]:
        chain = ">".join(job.get("format_chain") or [job["format"]])
        content: dict[str, Any] = {
            "@id": node_id("job-content", key, job["job_id"]),
            "@type": "uco-observable:ContentDataFacet",
            "uco-observable:sizeInBytes": job.get("length"),
            "uco-observable:hash": [_hash("sha256", job["sha256"])] if job.get("sha256") else [],
        }
        pages = f", {job['pages']} page(s)" if job.get("pages") is not None else ""
        yield {
            "@id": node,
            "@type": "uco-observable:ObservableObject",
            "uco-core:name": f"{chain} job {job['job_id']}",
            "uco-core:description": (
                f"{'carved ' if job.get('carved') else ''}{chain} job{pages} at "
                f"{(job.get('address') or {}).get('text', '')}"
            ),
            "uco-core:tag": [chain, str(job.get("location_class"))],
            "uco-core:hasFacet": [_clean(content)],
        }
        if job.get("parent_job_id"):
            parent = node_id("job", key, job["parent_job_id"])
            yield _contained(node, parent, [])
        volume = volume_index(job)
        holder = (
            files.get((volume, int(job["inode"])))
            if volume is not None and job.get("inode") is not None
            else None
        )
        if holder and job.get("file_offset") is not None and job.get("length"):
            yield _contained(node, holder, [(int(job["file_offset"]), int(job["length"]))])
        runs = [(r["image_offset"], r["length"]) for r in job.get("byte_runs") or ()]
        if not runs and job.get("image_offset") is not None and job.get("length"):
            runs = [(int(job["image_offset"]), int(job["length"]))]
        if runs:
            yield _contained(node, image_node, runs)

    @staticmethod
    def _finding(
        node: str, key: str, finding: dict[str, Any], image_node: str
    ) -> Iterator[dict[str, Any]]:
        value = finding.get("value") or finding.get("value_masked")
        yield {
            "@id": node,
            "@type": "uco-observable:ObservableObject",
            "uco-core:name": f"{finding['category']} finding ({finding['rule']})",
            "uco-core:description": (
                f"{finding['severity']} {finding['category']}: {finding['description']}; "
                f"value {value}; context {finding.get('context') or finding.get('context_masked')}"
                f"; at {(finding.get('address') or {}).get('text', '')}"
            ),
            "uco-core:tag": [
                t
                for t in (
                    finding["category"],
                    f"severity:{finding['severity']}",
                    f"confidence:{finding['confidence']}" if finding.get("confidence") else None,
                    str(finding.get("location_class")),
                )
                if t
            ],
            "uco-core:hasFacet": [
                {
                    "@id": node_id("finding-content", node),
                    "@type": "uco-observable:ContentDataFacet",
                    "uco-observable:sizeInBytes": finding.get("length"),
                    "uco-observable:hash": [_hash("sha256", finding["value_sha256"])]
                    if finding.get("value_sha256")
                    else [],
                }
            ],
        }
        if finding.get("image_offset") is not None:
            yield _contained(
                node, image_node, [(int(finding["image_offset"]), int(finding["length"]))]
            )
        if finding.get("job_id"):
            job = node_id("job", key, finding["job_id"])
            offset = finding.get("stream_offset")
            ranges = [(int(offset), int(finding["length"]))] if offset is not None else []
            yield _contained(node, job, ranges)
