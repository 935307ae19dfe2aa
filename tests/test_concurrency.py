"""One writer at a time: the lake's writer lock, and two real `newslake ingest` processes started
together on one inbox and one lake, which must leave every file recorded exactly once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.writer_lock import WriterLockTimeout, writer_lock
from tests.conftest import cli_environment

NEWSLAKE = Path(sys.executable).with_name("newslake")


def test_writer_lock_second_holder_times_out_naming_the_first(tmp_path):
    waits = []
    with writer_lock(tmp_path, timeout=1):
        with pytest.raises(WriterLockTimeout, match=f"process {os.getpid()}"):
            with writer_lock(tmp_path, timeout=0.3, on_wait=waits.append):
                pass
    assert waits == [f"process {os.getpid()}"]


def test_writer_lock_released_after_block_and_after_error(tmp_path):
    with pytest.raises(RuntimeError):
        with writer_lock(tmp_path, timeout=1):
            raise RuntimeError("run failed")
    with writer_lock(tmp_path, timeout=0):
        pass


def test_two_concurrent_ingests_leave_lake_consistent(small_inbox, lake_dir, tmp_path, harness_api_url):
    import newslake

    inbox = small_inbox  # 5 files, 4 articles: in batches of 2, three batches
    processes = []
    for n in range(2):
        processes.append(subprocess.Popen(
            [str(NEWSLAKE), "ingest", "--seeds", str(inbox), "--lake", str(lake_dir), "--batch-size", "2"],
            env=cli_environment(tmp_path / f"prefect-{n}", harness_api_url),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs

    new_articles = [int(re.search(r"new articles\s+(\d+)", out).group(1)) for out in outputs]
    files = sorted(p.relative_to(inbox).as_posix() for p in inbox.rglob("*") if p.is_file())
    assert sorted(new_articles) == [0, len(files) - 1]  # one run did it all, the other found it done
    con = newslake.connect(lake_dir)
    try:
        assert [r[0] for r in con.execute("SELECT path FROM files ORDER BY path").fetchall()] == files
        assert con.execute("SELECT count(*), count(DISTINCT article_id) FROM articles").fetchone() == (len(files) - 1,) * 2
        assert con.execute("SELECT count(*) FROM duplicates").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM runs WHERE status = 'completed'").fetchone() == (2,)
    finally:
        con.close()
