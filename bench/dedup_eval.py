"""Precision and recall of duplicate marks on real articles, through `newslake ingest`.

Takes `--n` distinct stories from a folder of real articles, and for each one the story of the same
category sharing the most names with it (a different story on the same subject: the negative).
Every story gets one copy of each kind in bench/dedup_copies.py. The stories and half of the copies
are ingested in a first run, the other half of the copies in a second run (so copies are caught both
within a batch and against history). Then the lake's `files`, `duplicates` and `articles` say which
file was marked a duplicate of which article:

- a mark is right when a copy points at the article of the story it was made from;
- precision = right marks / all marks; recall = right marks / copies, overall and per kind;
- a negative pair is kept apart when both stories are articles of their own.

    .venv/bin/python bench/dedup_eval.py [--corpus ../shared/corpora/bbc] [--n 150] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dedup_copies import COPY_KINDS, distinct_stories, load_stories, same_topic_partner  # noqa: E402

TARGET_PRECISION, TARGET_RECALL, TARGET_KIND_RECALL = 0.98, 0.95, 0.9
# Stories sort before their copies, so within a run the story comes first and is the canonical.
STORIES, COPIES = "a-stories", "b-copies"


def write_inbox(inbox: Path, n: int, corpus: Path, seed: int) -> tuple[dict[str, str | None], list[tuple[str, str]], list[Path]]:
    """Write the stories and copies; return (expected canonical path or None per file, negative
    pairs of story paths, the copies held back for the second run)."""
    rng = random.Random(seed)
    pool = distinct_stories(load_stories(corpus))
    originals = sorted(rng.sample(pool, n), key=lambda s: s.name)
    pairs = [(story, same_topic_partner(story, pool)) for story in originals]
    stories = {s.name: s for pair in pairs for s in pair}
    expected: dict[str, str | None] = {}
    for name, story in sorted(stories.items()):
        path = inbox / STORIES / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(story.text(), encoding="utf-8")
        expected[f"{STORIES}/{name}"] = None
    held_back = []
    for index, (kind, make_copy) in enumerate(COPY_KINDS.items()):
        for number, story in enumerate(originals):
            path = inbox / COPIES / kind / story.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(make_copy(story, rng), encoding="utf-8")
            expected[f"{COPIES}/{kind}/{story.name}"] = f"{STORIES}/{story.name}"
            if (number + index) % 2:
                held_back.append(path)
    negatives = [(f"{STORIES}/{a.name}", f"{STORIES}/{b.name}") for a, b in pairs]
    return expected, negatives, held_back


def ingest(inbox: Path, lake: Path, env: dict[str, str]) -> None:
    newslake = Path(sys.executable).parent / "newslake"
    subprocess.run([str(newslake), "ingest", "--seeds", str(inbox), "--lake", str(lake)], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def marks_in(lake: Path) -> tuple[dict[str, tuple[str, str, float]], dict[str, str]]:
    """(path -> (canonical path, method, similarity) for every duplicate, path -> status)."""
    import newslake

    con = newslake.connect(lake)
    try:
        marks = con.execute("""
            SELECT d.source_path, a.source_path, d.method, d.similarity
            FROM duplicates AS d JOIN articles AS a USING (article_id)""").fetchall()
        statuses = dict(con.execute("SELECT path, status FROM files").fetchall())
    finally:
        con.close()
    return {path: (canonical, method, similarity) for path, canonical, method, similarity in marks}, statuses


def kind_of(path: str) -> str:
    return path.split("/")[1] if path.startswith(COPIES + "/") else "story"


def report(expected: dict[str, str | None], negatives: list[tuple[str, str]],
           marks: dict[str, tuple[str, str, float]], statuses: dict[str, str]) -> bool:
    missing = set(expected) - set(statuses)
    if missing:
        raise SystemExit(f"{len(missing)} files are not in the lake's files table, e.g. {sorted(missing)[:3]}")
    right = {path for path, (canonical, _, _) in marks.items() if expected.get(path) == canonical}
    copies = [path for path, canonical in expected.items() if canonical is not None]
    precision = len(right) / len(marks) if marks else 1.0
    recall = len(right) / len(copies)
    print(f"{len(expected)} files: {len(expected) - len(copies)} stories ({len(negatives)} same-topic pairs), "
          f"{len(copies)} copies; {len(marks)} duplicate marks")
    print(f"overall    precision {precision:.3f}  recall {recall:.3f}  "
          f"(targets >= {TARGET_PRECISION}, >= {TARGET_RECALL})")
    ok = precision >= TARGET_PRECISION and recall >= TARGET_RECALL
    for kind in [*COPY_KINDS, "story"]:
        files = [path for path in expected if kind_of(path) == kind]
        kind_marks = [path for path in marks if kind_of(path) == kind]
        methods = Counter(marks[path][1] for path in kind_marks)
        kind_right = [path for path in kind_marks if path in right]
        similarities = sorted(marks[path][2] for path in kind_right if marks[path][1] == "near")
        if kind == "story":
            print(f"{'stories':10s} {len(kind_marks)} of {len(files)} wrongly marked duplicates")
            ok &= not kind_marks
            continue
        kind_recall = len(kind_right) / len(files)
        low = f", lowest near similarity {similarities[0]:.2f}" if similarities else ""
        print(f"{kind:10s} precision {len(kind_right) / len(kind_marks) if kind_marks else 1.0:.3f}  "
              f"recall {kind_recall:.3f}  ({', '.join(f'{n} {m}' for m, n in sorted(methods.items()))}{low})")
        ok &= kind_recall >= TARGET_KIND_RECALL
    apart = sum(statuses[a] == statuses[b] == "ingested" for a, b in negatives)
    print(f"negatives  {apart} of {len(negatives)} same-topic pairs kept as two articles")
    wrong = sorted(set(marks) - right)[:5] + sorted(set(copies) - right)[:5]
    for path in wrong:
        print(f"  wrong: {path} -> {marks.get(path, ('not marked',))[0]} (expected {expected[path]})")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared/corpora/bbc")
    parser.add_argument("--n", type=int, default=150, help="stories to copy (each also brings its negative)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="newslake-dedup-eval-") as tmp:
        inbox, lake, aside = Path(tmp) / "inbox", Path(tmp) / "lake", Path(tmp) / "aside"
        expected, negatives, held_back = write_inbox(inbox, args.n, args.corpus, args.seed)
        for path in held_back:
            target = aside / path.relative_to(inbox)
            target.parent.mkdir(parents=True, exist_ok=True)
            path.rename(target)
        # A throwaway Prefect home; the ephemeral server gets time to start on a busy machine.
        env = {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180", **os.environ,
               "PREFECT_HOME": str(Path(tmp) / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        ingest(inbox, lake, env)
        for path in held_back:
            (aside / path.relative_to(inbox)).rename(path)
        ingest(inbox, lake, env)
        ok = report(expected, negatives, *marks_in(lake))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
