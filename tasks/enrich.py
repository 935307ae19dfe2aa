"""Enrichment of article bodies: NER entities with canonical names, cited sources, counts, language.

Plain functions first (testable without Prefect), one thin ``@task`` at the bottom.

    >>> from tasks.enrich import enrich_bodies
    >>> [e] = enrich_bodies(["Pentagon spokesman John Kirby told the Washington Post ..."])
    >>> e.sources
    ['Washington Post']

NER runs NER alone (``load_nlp`` excludes every other component: ``ner`` has its own embedded
tok2vec, so its entities are identical to the full pipeline's); everything after it is linear in
the entities: canonical names (tasks.names), cited outlets (tasks.outlets), and the word count and
language of the body (tasks.language).
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run

from tasks.language import detect_language, word_count
from tasks.names import clean_name, resolve_names
from tasks.ner import NerJob, RawEntity, available_cpus, load_nlp
from tasks.outlets import cited_sources
from tasks.quotes import find_quotes
from tasks.records import Enrichment, Entity
from tasks.retry import retry_unless_bug

# Worker processes for in-process nlp.pipe (enrich_bodies): 2 pay off for batches of a few hundred
# bodies on an idle machine, not on busy cores (pass n_process=1 there). On Linux spaCy forks them,
# so the loaded model is shared copy-on-write and never pickled.
DEFAULT_N_PROCESS = 2
DEFAULT_BATCH_SIZE = 64


def enrich_doc(body: str, doc) -> Enrichment:
    """Turn one processed spaCy ``doc`` of ``body`` into an Enrichment (no further NLP)."""
    return enrich_entities(body, [(ent.text, ent.label_, ent.start_char, ent.end_char) for ent in doc.ents])


def enrich_entities(body: str, raw: list[RawEntity]) -> Enrichment:
    """The Enrichment of ``body`` from its NER entities ``raw`` (text, label, start, end), in
    document order (no further NLP)."""
    cleaned = [clean_name(text, label) for text, label, _, _ in raw]
    by_label: dict[str, list[str]] = {}
    for (_, label, _, _), name in zip(raw, cleaned):
        by_label.setdefault(label, []).append(name)
    resolved = {label: resolve_names(names, label) for label, names in by_label.items()}
    names = [resolved[label][name] for (_, label, _, _), name in zip(raw, cleaned)]
    entities = [Entity(text, name, label, start, end) for (text, label, start, end), name in zip(raw, names)]
    return Enrichment(
        entities=entities,
        sources=cited_sources(body, raw, names),
        word_count=word_count(body),
        language=detect_language(body),
        quotes=find_quotes(body, entities),
    )


def enrich_bodies(
    bodies: list[str],
    n_process: int = DEFAULT_N_PROCESS,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> list[Enrichment]:
    """Enrich a batch of article bodies: one Enrichment per body, in order.

    One ``nlp.pipe`` call (NER only) over the whole batch. With ``n_process > 1`` spaCy runs
    that many worker processes, but never more than there are CPUs available or batches of
    ``batch_size`` bodies: a batch that fits in one ``batch_size`` runs in-process. With
    several workers, ``batch_size`` is an upper bound: batches are evened out so each worker
    gets the same number of bodies.
    """
    if not bodies:
        return []
    nlp = load_nlp()
    n_batches = -(-len(bodies) // batch_size)
    n_process = max(1, min(n_process, n_batches, available_cpus()))
    if n_process > 1:
        # spaCy deals batches to the workers in turn: make their number a multiple of the
        # workers and their sizes equal, or one worker gets e.g. 128 of 200 bodies and the
        # other 72 (batch_size 64), and the call waits for the busier one.
        n_batches = -(-n_batches // n_process) * n_process
        batch_size = -(-len(bodies) // n_batches)
    docs = nlp.pipe(bodies, n_process=n_process, batch_size=batch_size)
    return [enrich_doc(body, doc) for body, doc in zip(bodies, docs, strict=True)]


def enrich_submitted(bodies: list[str], job: NerJob) -> list[Enrichment]:
    """The Enrichments of ``bodies``, whose NER was submitted to the worker processes as ``job``
    (tasks.ner): each chunk is finished here while the workers go on with the next."""
    return [enrich_entities(body, raw) for body, raw in zip(bodies, job.entities(), strict=True)]


@task(name="enrich", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1, retry_condition_fn=retry_unless_bug)
def enrich_task(bodies: list[str], job: NerJob) -> list[Enrichment]:
    """Prefect task: waits for one batch's NER job and finishes its Enrichments. Retried when the
    machine failed (memory, a worker that died), never for a bug; a retry submits the bodies again
    to the same pool, which has replaced a dead worker by then."""
    if task_run.run_count > 1:
        job = job.pool.submit(bodies)
    return enrich_submitted(bodies, job)
