#!/usr/bin/env python3
"""Check examples/truth.json against the files in examples/corpus/ (standard library only).

    python3 examples/check_truth.py

It reads every article the way the storyline readers are meant to (txt with
front matter, sidecar .meta.json or a leading 'date YYYY-MM-DD' marker; HTML
pages; JSONL records; RSS items; WARC response records) and verifies that the
truth file's counts, URLs, stories, links, quotes, conflicts and boilerplate
lines agree with what is actually in the corpus. Exits non-zero on failure.
"""
import html
import json
import re
import sys
import xml.etree.ElementTree as ET
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
FAIL = []


def fail(msg):
    FAIL.append(msg)
    print("FAIL:", msg)


def norm(s):
    s = html.unescape(s).replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", s).strip().lower()


class Page(HTMLParser):
    """Collects head metadata, <article> paragraphs and the page's visible text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.meta, self.paras, self.text = {}, [], []
        self.title, self._in_title, self._skip, self._article, self._p = "", False, 0, 0, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag == "meta":
            k = a.get("property") or a.get("name")
            if k:
                self.meta[k] = a.get("content", "")
        elif tag == "link" and a.get("rel") == "canonical":
            self.meta["canonical"] = a.get("href", "")
        elif tag == "article":
            self._article += 1
        elif tag == "p" and self._article:
            self._p = []
        if tag in ("p", "div", "li", "h1", "h2", "h3", "figcaption", "small", "footer", "nav", "aside", "section"):
            self.text.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        elif tag == "title":
            self._in_title = False
        elif tag == "article":
            self._article -= 1
        elif tag == "p" and self._p is not None:
            self.paras.append("".join(self._p).strip())
            self._p = None

    def handle_data(self, data):
        if self._skip:
            return
        if self._in_title:
            self.title += data
        if self._p is not None:
            self._p.append(data)
        self.text.append(data)


def page(src):
    p = Page()
    p.feed(src)
    return p


def read_txt(path):
    raw = path.read_text(encoding="utf-8")
    meta, body = {}, raw
    if raw.startswith("---\n"):
        end = raw.index("\n---\n", 4)
        meta = dict(l.split(": ", 1) for l in raw[4:end].splitlines())
        body = raw[end + 5:]
    m = re.match(r"date (\d{4}-\d{2}-\d{2}) ", body)
    if m:
        meta["published"] = m.group(1)
        body = body[m.end():]
    side = path.with_name(path.name[:-4] + ".meta.json")
    if side.exists():
        meta.update(json.loads(side.read_text(encoding="utf-8")))
    return dict(meta, body=body, raw=raw, paras=[x.strip() for x in body.strip().split("\n\n")])


def read_html(src):
    p = page(src)
    return {"url": p.meta.get("canonical") or p.meta.get("og:url"), "source": p.meta.get("og:site_name"),
            "published": p.meta.get("article:published_time"), "author": p.meta.get("author"),
            "title": p.meta.get("og:title") or p.title, "paras": p.paras, "raw": "".join(p.text), "body": "\n\n".join(p.paras)}


def read_jsonl(path):
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        r = json.loads(line)
        if "text" in r:
            r["paras"], r["raw"] = r["text"].split("\n\n"), r["text"]
        else:
            p = page(r["html"])
            r["paras"], r["raw"] = p.paras, "".join(p.text)
        r["body"] = "\n\n".join(r["paras"])
        r["line"] = i
        out.append(r)
    return out


def read_rss(path):
    ns = {"content": "http://purl.org/rss/1.0/modules/content/", "dc": "http://purl.org/dc/elements/1.1/"}
    root = ET.parse(path).getroot()
    ch = root.find("channel")
    out = []
    for it in ch.findall("item"):
        c = it.find("content:encoded", ns).text
        p = page("<article>" + c + "</article>")
        pub = datetime.strptime(it.findtext("pubDate"), "%a, %d %b %Y %H:%M:%S %z").isoformat()
        out.append({"url": it.findtext("link"), "title": it.findtext("title"), "source": ch.findtext("title"),
                    "published": pub, "author": it.findtext("dc:creator", namespaces=ns),
                    "paras": p.paras, "raw": "".join(p.text), "body": "\n\n".join(p.paras)})
    return out


def read_warc(path):
    data, pos, out = path.read_bytes(), 0, []
    while pos < len(data):
        end = data.index(b"\r\n\r\n", pos)
        head = data[pos:end].decode("utf-8").split("\r\n")
        h = dict((k.strip(), v.strip()) for k, _, v in (l.partition(":") for l in head[1:]))
        n = int(h["Content-Length"])
        block = data[end + 4:end + 4 + n]
        pos = end + 4 + n + 4
        if h["WARC-Type"] == "response":
            body = block.partition(b"\r\n\r\n")[2].decode("utf-8")
            r = read_html(body)
            if r["url"] != h["WARC-Target-URI"]:
                fail(f"WARC target URI differs from canonical: {h['WARC-Target-URI']}")
            out.append(r)
    return out


def when(s):
    if len(s) == 10:
        s += "T00:00:00+00:00"
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def main():
    truth = json.loads((HERE / "truth.json").read_text(encoding="utf-8"))
    found = {}  # url -> record

    def add(fmt, rel, rec):
        rec["format"], rec["file"] = fmt, rel
        if rec["url"] in found:
            fail(f"duplicate URL {rec['url']}")
        found[rec["url"]] = rec

    for f in sorted(CORPUS.rglob("*")):
        rel = str(f.relative_to(HERE))
        if f.suffix == ".txt":
            add("txt", rel, read_txt(f))
        elif f.suffix == ".html":
            add("html", rel, read_html(f.read_text(encoding="utf-8")))
        elif f.suffix == ".jsonl":
            for r in read_jsonl(f):
                add("jsonl", rel, r)
        elif f.suffix in (".rss", ".xml"):
            for r in read_rss(f):
                add("rss", rel, r)
        elif f.suffix == ".warc":
            for r in read_warc(f):
                add("warc", rel, r)
        elif f.is_file() and not f.name.endswith(".meta.json"):
            fail(f"unexpected file in corpus: {rel}")

    # counts and metadata
    by = {}
    for r in found.values():
        by[r["format"]] = by.get(r["format"], 0) + 1
    if truth["articles"]["count"] != len(found):
        fail(f"count {truth['articles']['count']} != {len(found)} articles found")
    if truth["articles"]["by_format"] != by:
        fail(f"by_format {truth['articles']['by_format']} != {by}")
    listed = {a["url"]: a for a in truth["articles_list"]}
    if set(listed) != set(found):
        fail(f"articles_list/corpus mismatch: {set(listed) ^ set(found)}")
    for url, a in listed.items():
        r = found.get(url)
        if not r:
            continue
        for k in ("source", "title", "format", "file"):
            if r.get(k) != a[k]:
                fail(f"{url}: {k} {r.get(k)!r} != truth {a[k]!r}")
        if when(r["published"]) != when(a["published"]):
            fail(f"{url}: published {r['published']} != truth {a['published']}")
        if not r.get("author"):
            fail(f"{url}: no author")
    if sorted({a["source"] for a in truth["articles_list"]}) != sorted(truth["outlets"]):
        fail("outlets list does not match the articles' sources")

    # stories partition the articles
    seen = []
    for s in truth["stories"]:
        seen += s["articles"]
        for u in s["articles"]:
            if listed.get(u, {}).get("story") != s["key"]:
                fail(f"story {s['key']}: {u} not tagged with it in articles_list")
    if sorted(seen) != sorted(listed):
        fail("stories do not cover every article exactly once")
    # "also": an article of another story that this one may take instead (either is right)
    for s in truth["stories"]:
        for u in s.get("also", []):
            if u not in listed or listed[u].get("story") == s["key"]:
                fail(f"story {s['key']}: also-article {u} is not another story's article")

    # boilerplate lines listed in the truth file are dropped before comparing bodies
    removed = {b["url"]: {norm(x) for x in b["removed"] + b["credits"]} for b in truth["boilerplate"]}
    for u, r in found.items():
        rm = removed.get(u, set())
        kept = ("\n".join(l for l in p.split("\n") if norm(l) not in rm).strip() for p in r["paras"])
        r["clean"] = [p for p in kept if p and norm(p) not in rm]
        r["body"] = "\n\n".join(r["clean"])

    for u, r in found.items():
        words = len(r["body"].split())
        if not 150 <= words <= 450:
            fail(f"{u}: cleaned body has {words} words")

    # links
    def paras(u):
        return [norm(p) for p in found[u]["clean"]]
    for l in truth["links"]:
        s, c = l["source"], l["copy"]
        if s not in found or c not in found:
            fail(f"link with unknown URL: {l}")
            continue
        if not when(found[s]["published"]) < when(found[c]["published"]):
            fail(f"link source not earlier than copy: {s} -> {c}")
        ps, pc = paras(s), paras(c)
        if l["kind"] == "duplicate" and ps != pc:
            fail(f"duplicate bodies differ: {s} / {c}")
        if l["kind"] == "near_duplicate":
            same = sum(1 for p in pc if p in ps)
            if not (len(ps) - 2 <= same < len(ps)):
                fail(f"near_duplicate overlap {same}/{len(ps)} paragraphs: {c}")
        if l["kind"] == "rewrite":
            if len(ps) != len(pc) or any(a == b for a, b in zip(ps, pc) if '"' not in a[:2]):
                fail(f"rewrite should keep paragraph order with reworded paragraphs: {c}")
        if l["kind"] == "partial":
            runs = [i for i in range(len(pc)) if pc[i] in ps]
            if not (2 <= len(runs) <= 4 and runs == list(range(runs[0], runs[0] + len(runs)))):
                fail(f"partial reuse should be one contiguous block of 2-4 paragraphs: {runs}")
    for p in truth["independent_pairs"]:
        if p["a"] not in found or p["b"] not in found:
            fail(f"independent pair with unknown URL: {p}")
            continue
        shared = set(paras(p["a"])) & set(paras(p["b"]))
        if shared:
            fail(f"independent pair shares whole paragraphs: {p['a']} / {p['b']}")

    # quotes
    if len(truth["quotes"]) < 8:
        fail("fewer than 8 quotes")
    for q in truth["quotes"]:
        forms = [norm(q["text"])] + [norm(v) for v in q["variants"]]
        if any(len(f.split()) < 4 for f in forms):
            fail(f"quote shorter than 4 words: {q['text']}")
        for u in q["articles"]:
            if u not in found:
                fail(f"quote article unknown: {u}")
                continue
            body = norm(found[u]["body"])
            if not any(f in body for f in forms):
                fail(f"quote not in {u}: {q['text']}")
            if q["speaker"].split()[-1].lower() not in body:
                fail(f"speaker {q['speaker']} not named in {u}")

    # conflicts
    for c in truth["conflicts"]:
        if len({v["value"] for v in c["values"]}) < 2:
            fail(f"conflict without disagreement: {c['fact']}")
        for v in c["values"]:
            if v["url"] not in found or v["value"] not in found[v["url"]]["body"]:
                fail(f"conflict value {v['value']} not in {v['url']}")

    # boilerplate lines exist in the raw article
    for b in truth["boilerplate"]:
        r = found.get(b["url"])
        if not r:
            fail(f"boilerplate entry for unknown URL {b['url']}")
            continue
        raw = norm(r["raw"])
        body_paras = set(paras(b["url"]))
        for line in b["removed"]:
            if norm(line) not in raw:
                fail(f"boilerplate line not found in {b['url']}: {line!r}")
        for cr in b["credits"]:
            if norm(cr) not in raw:
                fail(f"credit {cr!r} not found in {b['url']}")

    print(f"{len(found)} articles {by}; {len(truth['stories'])} stories; {len(truth['links'])} links; "
          f"{len(truth['quotes'])} quotes; {len(truth['conflicts'])} conflicts; {len(truth['boilerplate'])} boilerplate entries")
    print("OK" if not FAIL else f"{len(FAIL)} problem(s)")
    sys.exit(1 if FAIL else 0)


if __name__ == "__main__":
    main()
