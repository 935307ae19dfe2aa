"""Quotes against the hand-made gold set in bench/quotes_gold (see its README): quote precision,
recall and F1 (a found quote matches a gold one when their spans overlap) and speaker accuracy on
matched quotes whose gold speaker is named.

    python bench/bench_quotes.py --corpus ../shared/corpora/bbc [--gold bench/quotes_gold/heldout.json] [--show-errors]

gold.json is the set the extractor was developed on; heldout.json was scored once, after.

The pipeline's own path is measured: spaCy NER as ingest runs it, then tasks.enrich.enrich_entities.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.enrich import enrich_entities, load_nlp  # noqa: E402
from tasks.parse import parse_document  # noqa: E402
from tasks.quotes import find_quotes  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GOLD = Path(__file__).resolve().parent / "quotes_gold" / "gold.json"


def gold_spans(body: str, quotes: list[dict]) -> list[tuple[int, int, list[str] | None]]:
    """(start, end, speaker names or None) of each gold quote: from its first part to its last."""
    spans = []
    for quote in quotes:
        starts = [body.index(part) for part in quote["parts"]]
        spans.append((starts[0], starts[-1] + len(quote["parts"][-1]), quote["speaker"]))
    return spans


def score(corpus: Path, gold_file: Path, show_errors: bool) -> dict:
    gold = json.loads(gold_file.read_text(encoding="utf-8"))["articles"]
    bodies = []
    for article in gold:
        path = ROOT / article["file"] if article["file"].startswith("seeds/") else corpus / article["file"][4:]
        bodies.append(parse_document(path.read_text(encoding="utf-8")).body)
    nlp = load_nlp()
    # CPU seconds of NER and of quote finding on the same bodies: what quotes add to enrichment.
    ner_start = time.process_time()
    raws = [[(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents] for doc in nlp.pipe(bodies)]
    ner_seconds = time.process_time() - ner_start
    enrichments = [enrich_entities(body, raw) for body, raw in zip(bodies, raws, strict=True)]
    quotes_start = time.process_time()
    for _ in range(5):
        for body, enrichment in zip(bodies, enrichments, strict=True):
            find_quotes(body, enrichment.entities)
    quotes_seconds = (time.process_time() - quotes_start) / 5
    found_total = gold_total = matched = named = speaker_right = 0
    for article, body, enrichment in zip(gold, bodies, enrichments, strict=True):
        found = enrichment.quotes
        expected = gold_spans(body, article["quotes"])
        found_total += len(found)
        gold_total += len(expected)
        used: set[int] = set()
        for start, end, speakers in expected:
            hit = next((i for i, q in enumerate(found)
                        if i not in used and q.start_char < end and start < q.end_char), None)
            if hit is None:
                if show_errors:
                    print(f"MISS {article['file']}: {body[start:end][:70]!r}")
                continue
            used.add(hit)
            matched += 1
            if speakers is not None:
                named += 1
                said_by = found[hit].speaker
                if said_by is not None and said_by.casefold() in {s.casefold() for s in speakers}:
                    speaker_right += 1
                elif show_errors:
                    print(f"SPEAKER {article['file']}: {body[start:end][:50]!r} gold={speakers[0]!r} found={said_by!r}")
        if show_errors:
            for i, q in enumerate(found):
                if i not in used:
                    print(f"EXTRA {article['file']}: {q.quote[:70]!r} ({q.speaker}, {q.cue})")
    precision = matched / found_total if found_total else 0.0
    recall = matched / gold_total if gold_total else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"ner_seconds": ner_seconds, "quotes_seconds": quotes_seconds, "articles": len(gold),
            "gold_quotes": gold_total, "found_quotes": found_total, "matched": matched,
            "precision": precision, "recall": recall, "f1": f1, "named_matched": named,
            "speaker_accuracy": speaker_right / named if named else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpora" / "bbc")
    parser.add_argument("--gold", type=Path, default=GOLD, help="gold set (JSON, see bench/quotes_gold/README.md)")
    parser.add_argument("--show-errors", action="store_true", help="print every miss, extra and wrong speaker")
    args = parser.parse_args()
    result = score(args.corpus.resolve(), args.gold, args.show_errors)
    print(f"quotes gold set {args.gold.name}: {result['articles']} articles, {result['gold_quotes']} gold quotes, "
          f"{result['found_quotes']} found, {result['matched']} matched")
    print(f"  precision {result['precision']:.3f}  recall {result['recall']:.3f}  F1 {result['f1']:.3f}  "
          f"(target F1 >= 0.90)")
    print(f"  speaker accuracy {result['speaker_accuracy']:.3f} on {result['named_matched']} matched quotes "
          f"with a named speaker (target >= 0.90)")
    print(f"  CPU: NER {result['ner_seconds']:.2f} s, quote finding {result['quotes_seconds']:.3f} s "
          f"({result['quotes_seconds'] / result['ner_seconds']:.1%} of NER) for these articles")


if __name__ == "__main__":
    main()
