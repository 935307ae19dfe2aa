"""Cross-article identity (tasks/identity.py) against pairs of names built from the corpus.

The truth comes from within single articles, where it is reliable: an article that says "Mr Blair"
and "Tony Blair" tells who "Blair" is there (tasks.names links them), and one that says "President
Bush" and "George W Bush" tells who "President Bush" is. Across the lake, such a short or titled
form arrives alone, in an article that never names the person fully; the question is whether the
lake gives it the identity of the right full name. So, over the corpus's PERSON names:

  positive pairs  (short or titled form met in an article, the full name that article gave it)
  negative pairs  (that form, every other full name of the corpus with the same surname), and
                  (two full names with the same surname and different first names: two Johnsons)

Each pair is judged as the lake would: every full name and every short form is given its identity
with the lake knowing all the corpus's full names. Pairwise precision and recall are reported
against exact-string matching (which merges none of these pairs: a short form is never spelled
as its full name).

    python bench/bench_identity.py --corpus ../shared/corpora/bbc --articles 600
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.enrich import enrich_entities, load_nlp  # noqa: E402
from tasks.identity import identity_key, plan_identities  # noqa: E402
from tasks.names import clean_name  # noqa: E402
from tasks.parse import parse_document  # noqa: E402

_TITLES = ("president", "prime minister", "chancellor", "secretary", "senator", "governor", "minister", "mayor",
           "judge", "king", "queen", "prince", "pope", "mr", "mrs", "ms", "dr", "sir", "lord")


def corpus_pairs(corpus: Path, articles: int) -> tuple[set[tuple[str, str]], set[tuple[str, str]], set[str]]:
    """(positive pairs, negative pairs, full names) of PERSON names from the first `articles` files."""
    paths = sorted(corpus.rglob("*.txt"))[:articles]
    bodies = [parse_document(p.read_text(encoding="utf-8", errors="replace")).body for p in paths]
    nlp = load_nlp()
    full_names: set[str] = set()
    positives: set[tuple[str, str]] = set()
    for body, doc in zip(bodies, nlp.pipe(bodies, batch_size=64), strict=True):
        raw = [(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents]
        people = {(clean_name(e.text, e.label), e.name) for e in enrich_entities(body, raw).entities
                  if e.label == "PERSON"}
        article_full = {name for _, name in people if len(name.split()) > 1}
        full_names |= article_full
        for short, name in people:
            if short != name and name in article_full and len(short.split()) == 1:
                positives.add((short, name))  # "Blair" -> "Tony Blair" in this article
        for _, name in people:
            lowered = name.lower()
            title = next((t for t in _TITLES if lowered.startswith(t + " ")), None)
            if title is None:
                continue
            surname = name.split()[-1]
            owners = [f for f in article_full if f != name and f.split()[-1] == surname
                      and not f.lower().startswith(title + " ")]
            if len(owners) == 1:
                positives.add((name, owners[0]))  # "President Bush" -> "George W Bush"
    by_surname: dict[str, set[str]] = {}
    for name in full_names:
        by_surname.setdefault(name.split()[-1].lower(), set()).add(name)
    negatives: set[tuple[str, str]] = set()
    for short, name in positives:
        for other in by_surname.get(name.split()[-1].lower(), ()):
            if other != name and other.split()[0].lower() != name.split()[0].lower():
                negatives.add((short, other))
    for same_surname in by_surname.values():
        for a in same_surname:
            for b in same_surname:
                if a < b and a.split()[0].lower() != b.split()[0].lower() \
                        and identity_key(a, "PERSON").split()[0] != identity_key(b, "PERSON").split()[0]:
                    negatives.add((a, b))
    negatives -= positives
    return positives, negatives, full_names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "corpora" / "bbc")
    parser.add_argument("--articles", type=int, default=600, help="how many corpus files to read (NER on each)")
    args = parser.parse_args()
    positives, negatives, full_names = corpus_pairs(args.corpus.resolve(), args.articles)
    names = full_names | {short for short, _ in positives}
    identity = {row.name: row.entity_id for row in plan_identities([(n, "PERSON") for n in names], [])}
    merged_pos = sum(identity[a] == identity[b] for a, b in positives)
    merged_neg = sum(identity[a] == identity[b] for a, b in negatives)
    precision = merged_pos / (merged_pos + merged_neg) if merged_pos + merged_neg else 0.0
    recall = merged_pos / len(positives) if positives else 0.0
    exact = sum(a == b for a, b in positives)
    print(f"identity pairs from {args.articles} articles: {len(full_names)} full names, "
          f"{len(positives)} positive pairs, {len(negatives)} negative pairs")
    print(f"  lake identity   pairwise precision {precision:.3f} (target >= 0.95)  recall {recall:.3f}  "
          f"({merged_pos} true merges, {merged_neg} false merges)")
    print(f"  exact string    pairwise precision {'n/a' if not exact else '1.000'}  "
          f"recall {exact / len(positives):.3f}")
    wrong = [(a, b) for a, b in negatives if identity[a] == identity[b]]
    for a, b in sorted(wrong)[:10]:
        print(f"  false merge: {a!r} ~ {b!r}")


if __name__ == "__main__":
    main()
