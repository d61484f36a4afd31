"""Readers for the public evaluation sets (kept outside the project, in ../shared/eval)."""

from __future__ import annotations

import csv
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class DucDoc:
    docno: str
    cluster: str
    source: str
    published: str | None
    slug: str | None
    text: str
    slug_raw: str = ""

    @property
    def versioned(self) -> bool:
        """The wire slug marks a new version of a filed story (lead, writethru, adds, corrects)."""
        return bool(
            re.search(
                r"\b(\d+(st|nd|rd|th)\s*ld|ld-|writethru|adds|corrects|update|urgent|sub\b|insert)",
                self.slug_raw,
                re.I,
            )
        )


_TAG = re.compile(r"<(DOCNO|DATE_TIME|SLUG|TEXT)>(.*?)</\1>", re.S)
_SOURCES = {"APW": "Associated Press", "NYT": "New York Times", "XIE": "Xinhua"}


_SGML_PARAGRAPH = re.compile(r"\s*</?P>\s*", re.IGNORECASE)
# The wire's typesetting codes (&QL; quad left, &UR; underline, &LR; …) and what follows them
# on their line (an operator's sign-off such as "&UR; str-mae-vj").
_WIRE_CODES = re.compile(r"&(?:QL|QC|QR|UR|LR|MD|HT|TL|IT|Cx[0-9a-f]+);[^\n]*")


def _duc_text(raw: str) -> str:
    # Paragraphs start with an indented line (AP) or sit in <P> … </P> (NYT); lines inside a
    # paragraph are hard-wrapped.
    raw = _WIRE_CODES.sub("", raw)
    raw = _SGML_PARAGRAPH.sub("\n   ", raw)
    raw = html.unescape(raw).replace("``", "“").replace("''", "”")
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n[ \t]+(?=\S)", "\n" + raw.strip("\n"))]
    return "\n\n".join(p for p in paragraphs if p)


def _slug(value: str | None) -> str | None:
    if not value:
        return None
    base = value.strip().split(",")[0]
    return re.sub(r"\s+", "", base).lower() or None


def read_duc(root: str | Path, clusters: str = "t") -> list[DucDoc]:
    """DUC 2003 documents, one per file; ``clusters``: "t" (TDT, d3xxxxt), "all" or a name list."""
    base = Path(root)
    docs_dir = (
        base / "docs.without.headlines" if (base / "docs.without.headlines").is_dir() else base
    )
    out = []
    for cluster in sorted(p for p in docs_dir.iterdir() if p.is_dir()):
        if clusters == "t" and not cluster.name.endswith("t"):
            continue
        for path in sorted(cluster.iterdir()):
            raw = path.read_text(encoding="utf-8", errors="replace")
            fields: dict[str, str] = {}
            for m in _TAG.finditer(raw):
                fields.setdefault(m.group(1), m.group(2))
            docno = fields.get("DOCNO", path.name).strip()
            published = None
            if fields.get("DATE_TIME"):
                try:
                    moment = datetime.strptime(fields["DATE_TIME"].strip(), "%m/%d/%Y %H:%M:%S")
                    published = moment.replace(tzinfo=UTC).isoformat()
                except ValueError:
                    published = None
            if published is None:
                day = re.match(r"[A-Z]+(\d{4})(\d{2})(\d{2})", docno)
                if day:
                    published = f"{day.group(1)}-{day.group(2)}-{day.group(3)}"
            out.append(
                DucDoc(
                    docno=docno,
                    cluster=cluster.name,
                    source=_SOURCES.get(docno[:3], docno[:3]),
                    published=published,
                    slug=_slug(fields.get("SLUG")),
                    text=_duc_text(fields.get("TEXT", "")),
                    slug_raw=(fields.get("SLUG") or "").strip(),
                )
            )
    if not out:
        raise ValueError(
            f"{root}: no DUC clusters found (expected docs.without.headlines/d3xxxxt/...)"
        )
    return out


@dataclass
class CloughAnswer:
    file: str
    task: str
    category: str  # cut | light | heavy | non
    text: str


def read_clough(root: str | Path) -> tuple[list[CloughAnswer], dict[str, str]]:
    """The Clough & Stevenson answers with their labels, and the five source texts by task."""
    base = Path(root)
    info = base / "file_information.csv"
    if not info.exists():
        raise ValueError(
            f"{root}: file_information.csv not found (the Clough & Stevenson corpus folder?)"
        )
    answers, sources = [], {}
    with open(info, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            text = (base / row["File"]).read_text(encoding="utf-8", errors="replace")
            if row["Category"] == "orig":
                sources[row["Task"]] = text
            else:
                answers.append(CloughAnswer(row["File"], row["Task"], row["Category"], text))
    for task in "abcde":
        path = base / f"orig_task{task}.txt"
        if task not in sources and path.exists():
            sources[task] = path.read_text(encoding="utf-8", errors="replace")
    return answers, sources


@dataclass
class LabelledDoc:
    """One document of a labelled stream: id, time, title, body, gold stories, outlet."""

    id: str
    published: str | None
    title: str
    body: str
    gold: set[str]
    source: str | None = None


def duc_stream(root: str | Path, clusters: str = "t") -> list[LabelledDoc]:
    """DUC documents as a stream; a document filed in two clusters has both as gold stories."""
    merged: dict[str, LabelledDoc] = {}
    for d in read_duc(root, clusters):
        if d.docno in merged:
            merged[d.docno].gold.add(d.cluster)
            continue
        merged[d.docno] = LabelledDoc(d.docno, d.published, "", d.text, {d.cluster}, d.source)
    return list(merged.values())


_MONTHS = (
    "January February March April May June July August September October November December"
).split()
_DATELINE = re.compile(rf"\b({'|'.join(_MONTHS)}) (\d{{1,2}}), (\d{{4}})\b")


def _dateline(lines: list[str]) -> str | None:
    """The first "Month D, YYYY" date in ``lines``, as YYYY-MM-DD."""
    for line in lines:
        m = _DATELINE.search(line)
        if m:
            month = _MONTHS.index(m.group(1)) + 1
            return f"{m.group(3)}-{month:02d}-{int(m.group(2)):02d}"
    return None


def multiling_stream(root: str | Path) -> list[LabelledDoc]:
    """TAC 2011 MultiLing English: source_texts/M00TA.english (topic T, article A)."""
    base = Path(root)
    folder = base / "source_texts" if (base / "source_texts").is_dir() else base
    docs = []
    for path in sorted(folder.glob("*.english")):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        head = lines[0].strip() if lines else ""
        m = re.match(r"(\d{4})/(\d{2})/(\d{2})\s+(.*)", head)
        published, title = (
            (f"{m.group(1)}-{m.group(2)}-{m.group(3)}", m.group(4)) if m else (None, head)
        )
        if published is None:  # WikiNews' dateline under the title: "Saturday, January 8, 2005"
            published = _dateline(lines[1:6])
        body = "\n\n".join(ln.strip() for ln in lines[1:] if ln.strip())
        docs.append(LabelledDoc(path.stem, published, title, body, {path.stem[:4]}))
    if not docs:
        raise ValueError(f"{root}: no *.english source texts found")
    return docs


def uci_stream(path: str | Path) -> tuple[list[LabelledDoc], list[str]]:
    """UCI News Aggregator headlines; returns the complete rows and a note per row skipped."""
    docs, skipped = [], []
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        want = ["ID", "TITLE", "URL", "PUBLISHER", "CATEGORY", "STORY", "HOSTNAME", "TIMESTAMP"]
        if header[: len(want)] != want:
            raise ValueError(f"{path}: unexpected header {header}")
        for line_no, row in enumerate(reader, start=2):
            if len(row) != len(want) or not row[7].strip().isdigit() or not row[5].strip():
                skipped.append(
                    f"{path}:{line_no}: incomplete row (ID {row[0] if row else '?'}), skipped"
                )
                continue
            stamp = datetime.fromtimestamp(int(row[7]) / 1000.0, tz=UTC).isoformat()
            docs.append(LabelledDoc(f"uci-{row[0]}", stamp, row[1], "", {row[5]}, row[3]))
    return docs, skipped
