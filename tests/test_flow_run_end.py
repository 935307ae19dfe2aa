"""A flow run given no NER pool, as a deployment's run is, starts its own pool and closes it at the end:
the run ends quietly (no traceback, exit status 0) and no NER process outlives it.

Prefect's engine handles SIGTERM for the length of a flow run (its handler raises TerminationSignal);
workers that inherited it printed that traceback when the pool stopped them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

from tests.conftest import BBC, cli_environment

WAIT_SECONDS = 60

RUN_FLOW = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from flows.ingest import IngestSettings, ingest

    if __name__ == "__main__":
        summary = ingest(IngestSettings(seeds=Path(sys.argv[1]), lake=Path(sys.argv[2])))
        print(summary.status, summary.articles_new)
    """
)


def processes_marked(marker: str) -> list[str]:
    """Command lines of the multiprocessing processes (forkserver, NER workers, resource tracker)
    whose environment carries `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            marked = marker.encode() in (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours
            continue
        if marked and "multiprocessing" in cmdline:
            found.append(f"{entry.name}: {cmdline}")
    return found


def test_flow_run_with_its_own_pool_ends_quietly_and_leaves_no_ner_process(tmp_path, harness_api_url):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for path in sorted(BBC.glob("*.txt"))[:4]:
        shutil.copy(path, inbox / path.name)
    script = tmp_path / "run_flow.py"
    script.write_text(RUN_FLOW)
    marker = f"newslake-test-{uuid.uuid4()}"
    # The run goes to the session's test server, as a deployment's goes to its server.
    env = cli_environment(tmp_path / "prefect", harness_api_url, NEWSLAKE_TEST_MARKER=marker)
    run = subprocess.run([sys.executable, str(script), str(inbox), str(tmp_path / "lake")], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[-2:] == ["completed", "4"], run.stdout
    assert "Traceback" not in run.stderr and "TerminationSignal" not in run.stderr, run.stderr
    deadline = time.monotonic() + WAIT_SECONDS
    while processes_marked(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_marked(marker) == []
