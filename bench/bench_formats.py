"""Formats benchmark: HTML body extraction quality, WARC = HTML, and JSONL vs .txt throughput.

  html    `newslake ingest` of the html-benchmark pages (../shared/corpora/html-benchmark, 90 pages of
          Zyte's article-extraction benchmark) against trafilatura's default `extract()` on the same
          pages, in the same run, scored with the benchmark's own metric (see its README): target
          F1 >= 0.96 and >= trafilatura's.
  warc    the same pages packed into one .warc.gz with warcio and ingested into another lake: every
          page must give the same body as its .html file.
  jsonl   N articles as one JSONL file (news-please schema) against the same N as .txt files, each a
          whole `newslake ingest` process into an empty lake: target articles/s within 10 %.
  warc-memory
          peak RSS of reading (detect, stream, extract every page) a small and a large WARC (HTML pages
          among 1 MB image responses), each in its own process: a WARC is streamed record by record,
          so the large one must not cost more memory (target: within +20 %).

    .venv/bin/python bench/bench_formats.py                    # all three, 2,000 articles for jsonl
    .venv/bin/python bench/bench_formats.py --only html warc
    .venv/bin/python bench/bench_formats.py --only jsonl --articles 1000
    .venv/bin/python bench/bench_formats.py --only warc-memory --warc-mb 100 1000
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import re
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_ingest import run_ingest  # noqa: E402
from bench.corpus import BBC, distinct_real_files, synthetic_files  # noqa: E402

HTML_BENCHMARK = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "html-benchmark"
TARGET_F1 = 0.96
TARGET_JSONL_RATIO = 0.90
TARGET_RSS_GROWTH = 0.20
IMAGE_BYTES = 1 << 20  # the memory WARC's non-HTML responses
PAGE_EVERY = 4  # an HTML page after every 4th image
# Reads every record of one inbox the way the flow does (tasks.read.RecordStream, batches of 400
# records, results dropped after each batch as the flow drops them after its commit), then prints
# the process's peak RSS.
READ_ALL_SCRIPT = """
import resource, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from tasks.discover import scan_inbox
from tasks.read import RecordStream
inbox = Path(sys.argv[1])
records = 0
with RecordStream(inbox, scan_inbox(inbox, set()).candidates, set()) as stream:
    while not (batch := stream.next_batch(400)).is_empty:
        records += sum(1 for r in batch.results if r.article is not None)
print(records, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""
_TOKEN = re.compile(r"\w+")


def _shingles(text: str) -> Counter:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + 4]) for i in range(len(tokens) - 3))


def benchmark_f1(extracted: dict[str, str], truth: dict[str, str]) -> tuple[float, float, float]:
    """(precision, recall, F1) of extracted bodies by the benchmark's metric: 4-token shingle
    multisets per page, TP/FP/FN normalised per page, P and R averaged over pages."""
    precisions, recalls = [], []
    for page, true_body in truth.items():
        true, got = _shingles(true_body), _shingles(extracted.get(page, ""))
        tp = sum((true & got).values())
        fp = sum((got - true).values())
        fn = sum((true - got).values())
        if tp + fp + fn == 0:
            precisions.append(1.0)
            recalls.append(1.0)
            continue
        if tp + fp > 0:
            precisions.append(tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(tp / (tp + fn))
    precision = sum(precisions) / len(precisions)
    recall = sum(recalls) / len(recalls)
    return precision, recall, 2 * precision * recall / (precision + recall)


def load_pages(corpus: Path) -> tuple[dict[str, bytes], dict[str, str], dict[str, str]]:
    """(page id -> HTML bytes, page id -> true body, page id -> URL)."""
    truth = json.loads((corpus / "ground-truth.json").read_text(encoding="utf-8"))
    pages = {path.name.removesuffix(".html.gz"): gzip.decompress(path.read_bytes())
             for path in sorted((corpus / "html").glob("*.html.gz"))}
    return pages, {k: v["articleBody"] for k, v in truth.items() if k in pages}, \
        {k: v.get("url") for k, v in truth.items() if k in pages}


def lake_bodies(lake: Path) -> dict[str, str]:
    """source_path -> the body the lake holds for it (a duplicate's is its canonical's)."""
    import newslake

    con = newslake.connect(lake)
    try:
        rows = con.execute(
            "SELECT f.path, a.body FROM files AS f JOIN articles AS a USING (article_id) "
            "WHERE f.status IN ('ingested', 'duplicate')").fetchall()
    finally:
        con.close()
    return dict(rows)


def html_and_warc(corpus: Path, work: Path, only: set[str]) -> None:
    import trafilatura

    pages, truth, urls = load_pages(corpus)
    print(f"{len(pages)} pages from {corpus}; load average {os.getloadavg()[0]:.2f}")
    baseline = {page: trafilatura.extract(html) or "" for page, html in pages.items()}
    # the setting the benchmark's own runner uses, for reference
    no_comments = {page: trafilatura.extract(html, include_comments=False) or "" for page, html in pages.items()}
    inbox = work / "html_inbox"
    inbox.mkdir()
    for page, html in pages.items():
        (inbox / f"{page}.html").write_bytes(html)
    ingest = run_ingest(inbox, work / "html_lake", work / "prefect_html")
    ours = {path.removesuffix(".html"): body for path, body in lake_bodies(work / "html_lake").items()}
    for name, bodies in (("trafilatura extract() default", baseline),
                         ("trafilatura, include_comments=False", no_comments), ("newslake ingest", ours)):
        precision, recall, f1 = benchmark_f1(bodies, truth)
        print(f"  {name:36s} precision {precision:.4f}  recall {recall:.4f}  F1 {f1:.4f}")
    f1_ours, f1_base = benchmark_f1(ours, truth)[2], benchmark_f1(baseline, truth)[2]
    print(f"  newslake ingest took {ingest.seconds:.1f} s for {len(pages)} pages ({len(ours)} with a body)")
    print(f"HTML body F1 {f1_ours:.4f} (target >= {TARGET_F1} and >= trafilatura's {f1_base:.4f}): "
          f"{'OK' if f1_ours >= TARGET_F1 and f1_ours >= f1_base else 'MISSED'}")
    if "warc" not in only:
        return
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    warc_inbox = work / "warc_inbox"
    warc_inbox.mkdir()
    order = sorted(pages)
    with (warc_inbox / "pages.warc.gz").open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for page in order:
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            url = urls.get(page) or f"https://example.com/{page}"
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(pages[page]),
                                                          http_headers=headers))
    run_ingest(warc_inbox, work / "warc_lake", work / "prefect_warc")
    from_warc = {order[int(path.rsplit("#", 1)[1]) - 1]: body
                 for path, body in lake_bodies(work / "warc_lake").items()}
    same = sum(1 for page in order if page in ours and from_warc.get(page) == ours[page])
    print(f"WARC: {same} of {len(ours)} pages give the same body as their .html file "
          f"({len(from_warc)} records with a body): {'OK' if same == len(ours) == len(from_warc) else 'MISSED'}")


def jsonl_vs_txt(count: int, corpus: Path, work: Path) -> None:
    real = distinct_real_files(corpus)
    files = real[:count] + list(synthetic_files(real, max(0, count - len(real))))
    txt_inbox, jsonl_inbox = work / "txt_inbox", work / "jsonl_inbox"
    txt_inbox.mkdir()
    jsonl_inbox.mkdir()
    with (jsonl_inbox / "articles.jsonl").open("w", encoding="utf-8") as jsonl:
        for name, data in files:
            (txt_inbox / name).write_bytes(data)
            title, _, body = data.decode("utf-8", errors="replace").strip().partition("\n")
            jsonl.write(json.dumps({"title": title.strip(), "maintext": body.strip(), "url": f"https://example.com/{name}",
                                    "source_domain": "example.com"}) + "\n")
    print(f"{count} articles as .txt files and as one JSONL; load average {os.getloadavg()[0]:.2f}")
    txt = run_ingest(txt_inbox, work / "txt_lake", work / "prefect_txt")
    jsonl = run_ingest(jsonl_inbox, work / "jsonl_lake", work / "prefect_jsonl")
    txt_rate, jsonl_rate = count / txt.seconds, count / jsonl.seconds
    ratio = jsonl_rate / txt_rate
    print(f"  .txt  {txt.seconds:6.1f} s  {txt_rate:5.1f} art/s")
    print(f"  JSONL {jsonl.seconds:6.1f} s  {jsonl_rate:5.1f} art/s  (load {os.getloadavg()[0]:.2f})")
    print(f"JSONL/txt throughput ratio {ratio:.3f} (target >= {TARGET_JSONL_RATIO}): "
          f"{'OK' if ratio >= TARGET_JSONL_RATIO else 'MISSED'}")


def write_memory_warc(path: Path, megabytes: int, corpus: Path) -> tuple[int, int]:
    """An uncompressed .warc of about `megabytes` MB, as a crawl's WARC is: HTML pages of real stories
    among large non-HTML responses (1 MB images, which the reader streams past). Returns (pages, records)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    stories = [data.decode("utf-8", errors="replace") for _, data in distinct_real_files(corpus)[:500]]
    image = (b"\xff\xd8\xff\xe0" + bytes(range(256)) * (IMAGE_BYTES // 256))[:IMAGE_BYTES]
    images = megabytes * (1 << 20) // IMAGE_BYTES
    pages = 0
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=False)
        for n in range(images):
            headers = StatusAndHeaders("200 OK", [("Content-Type", "image/jpeg")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(f"https://example.com/img/{n}.jpg", "response",
                                                          payload=io.BytesIO(image), http_headers=headers))
            if n % PAGE_EVERY == 0:
                title, _, body = stories[pages % len(stories)].partition("\n")
                paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n\n") if p.strip())
                page = (f"<html><head><title>{title}</title></head>"
                        f"<body><article><h1>{title}</h1>{paragraphs}</article></body></html>").encode()
                headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
                writer.write_record(writer.create_warc_record(f"https://example.com/{n}", "response",
                                                              payload=io.BytesIO(page), http_headers=headers))
                pages += 1
    return pages, images + pages


def warc_memory(sizes: list[int], corpus: Path, work: Path) -> None:
    import subprocess

    from bench.bench_ingest import PYTHON, ROOT

    peaks = {}
    for megabytes in sizes:
        inbox = work / f"warc_{megabytes}"
        inbox.mkdir()
        pages, records = write_memory_warc(inbox / "crawl.warc", megabytes, corpus)
        size = (inbox / "crawl.warc").stat().st_size / 2**20
        run = subprocess.run([str(PYTHON), "-c", READ_ALL_SCRIPT, str(inbox), str(ROOT)], check=True,
                             capture_output=True, text=True)
        articles, peak = map(int, run.stdout.split())
        peaks[megabytes] = peak
        print(f"  {size:,.0f} MB WARC, {records} records, {pages} HTML pages: {articles} articles, "
              f"peak RSS {peak / 2**20:,.0f} MB; load {os.getloadavg()[0]:.2f}")
        shutil.rmtree(inbox)
    growth = peaks[max(sizes)] / peaks[min(sizes)] - 1
    print(f"WARC peak RSS {max(sizes)} MB vs {min(sizes)} MB: {growth:+.1%} (target <= +{TARGET_RSS_GROWTH:.0%}): "
          f"{'OK' if growth <= TARGET_RSS_GROWTH else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=["html", "warc", "jsonl", "warc-memory"],
                        default=["html", "warc", "jsonl", "warc-memory"])
    parser.add_argument("--articles", type=int, default=2000, help="articles in the JSONL vs .txt comparison")
    parser.add_argument("--warc-mb", type=int, nargs=2, default=[100, 1000], metavar=("SMALL", "LARGE"),
                        help="sizes of the two WARCs of the memory comparison")
    parser.add_argument("--html-corpus", type=Path, default=HTML_BENCHMARK)
    parser.add_argument("--corpus", type=Path, default=BBC)
    args = parser.parse_args()
    only = set(args.only)
    with tempfile.TemporaryDirectory(prefix="newslake-bench-formats-") as tmp:
        work = Path(tmp)
        if only & {"html", "warc"}:
            html_and_warc(args.html_corpus, work, only)
        if "jsonl" in only:
            jsonl_vs_txt(args.articles, args.corpus, work)
        if "warc-memory" in only:
            warc_memory(args.warc_mb, args.corpus, work)


if __name__ == "__main__":
    main()
