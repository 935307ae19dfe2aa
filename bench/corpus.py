"""Benchmark inputs: distinct real BBC articles, and more distinct articles made from their paragraphs.

Real articles come first (exact duplicates dropped, so every file is a story NER has to read). When
more files are asked for, synthetic ones are built deterministically (seeded) by dealing the
corpus's paragraphs out to new articles: within one round every paragraph is used once, so two
synthetic articles share at most a paragraph by chance and near dedup keeps them apart. Rounds
repeat with a fresh shuffle when more are needed (the 20,000-file memory run).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from pathlib import Path

BBC = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "bbc"
SEED = 20261126


def distinct_real_files(corpus: Path = BBC) -> list[tuple[str, bytes]]:
    """(name, bytes) of every BBC file whose bytes were not seen before, in path order."""
    seen: set[str] = set()
    files = []
    for path in sorted(corpus.rglob("*.txt")):
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest not in seen:
            seen.add(digest)
            files.append((f"{path.parent.name}_{path.stem}.txt", data))
    return files


def _title_and_paragraphs(data: bytes) -> tuple[str, list[str]]:
    title, _, rest = data.decode("utf-8", errors="replace").strip().partition("\n")
    return title.strip(), [p.strip() for p in rest.split("\n\n") if p.strip()]


def synthetic_files(real: list[tuple[str, bytes]], count: int, seed: int = SEED) -> Iterator[tuple[str, bytes]]:
    """`count` synthetic articles: a real title, then paragraphs of other articles, about as many
    words as a real article (word counts drawn from the real ones)."""
    rng = random.Random(seed)
    parsed = [_title_and_paragraphs(data) for _, data in real]
    titles = [title for title, _ in parsed]
    paragraphs = list(dict.fromkeys(p for _, ps in parsed for p in ps))
    lengths = [sum(len(p.split()) for p in ps) for _, ps in parsed]
    made = 0
    round_no = 0
    while made < count:
        pool = paragraphs[:]
        rng.shuffle(pool)
        while pool and made < count:
            target = rng.choice(lengths)
            body: list[str] = []
            words = 0
            while pool and words < target:
                body.append(pool.pop())
                words += len(body[-1].split())
            text = f"{rng.choice(titles)}\n\n" + "\n\n".join(body) + "\n"
            yield f"synthetic_{round_no:02d}_{made:06d}.txt", text.encode("utf-8")
            made += 1
        round_no += 1


def inbox_files(count: int, corpus: Path = BBC) -> list[tuple[str, bytes]]:
    """`count` distinct articles: real ones first, then synthetic ones."""
    real = distinct_real_files(corpus)
    if not real:  # nothing to deal paragraphs from: synthetic_files would never finish
        raise SystemExit(f"no .txt articles under {corpus} (--corpus DIR)")
    if count <= len(real):
        return real[:count]
    return real + list(synthetic_files(real, count - len(real)))


def write_inbox(folder: Path, count: int, corpus: Path = BBC, per_folder: int = 1000) -> Path:
    """Write `count` distinct article files into `folder` (sub-folders of `per_folder` files)."""
    for i, (name, data) in enumerate(inbox_files(count, corpus)):
        sub = folder / f"part_{i // per_folder:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / name).write_bytes(data)
    return folder
