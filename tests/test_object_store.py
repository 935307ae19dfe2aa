"""A lake whose data files are in object storage (`--lake s3://bucket/prefix`) and whose catalog is a
real PostgreSQL: ingest, read back, compact, with DuckDB's httpfs extension from its PyPI package.

No real S3 service can run on these machines. The object store here is moto's S3-compatible server
(`moto_server`, a real HTTP server started on a free port and stopped after): DuckDB speaks the same
S3 REST API to it as to AWS, MinIO or R2, which newslake reaches through the AWS SDK's environment
variables (tasks.lake.object_store_secret)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

import newslake
from newslake.cli import app
from tasks.lake import LakeLocation, ObjectStoreNeedsCatalog, object_store_secret
from tasks.maintenance import footprint
from tests.conftest import poll_until

MOTO_SERVER = Path(sys.executable).with_name("moto_server")
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "newslake-test", "AWS_SECRET_ACCESS_KEY": "newslake-test-secret",
               "AWS_REGION": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(endpoint, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def object_store(tmp_path_factory) -> str:
    """moto's S3 server on 127.0.0.1; its endpoint URL."""
    endpoint = f"http://127.0.0.1:{_free_port()}"
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with log.open("wb") as out:
        server = subprocess.Popen([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", endpoint.rpartition(":")[2]],
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        assert poll_until(lambda: _answers(endpoint), timeout=60, interval=0.1), log.read_text()
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def bucket(object_store, monkeypatch) -> tuple[str, object]:
    """A new bucket, and an S3 client to look into it; the AWS variables set as a user sets them."""
    import boto3

    for name, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": object_store}.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=object_store, region_name=CREDENTIALS["AWS_REGION"],
                          aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    name = f"newsroom-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name, client


def object_keys(client, bucket_name: str) -> list[str]:
    return [item["Key"] for item in client.list_objects_v2(Bucket=bucket_name).get("Contents", [])]


def test_lake_with_data_in_object_storage_ingests_reads_and_compacts(bucket, catalog_url, small_inbox, tmp_path,
                                                                       prefect_harness, monkeypatch):
    bucket_name, client = bucket
    lake = f"s3://{bucket_name}/lake"
    monkeypatch.chdir(tmp_path)
    cli = CliRunner()

    ingested = cli.invoke(app, ["ingest", "--seeds", str(small_inbox), "--lake", lake, "--catalog", catalog_url,
                                "--batch-size", "2"])  # three batches, three commits: files for maintenance to merge
    assert ingested.exit_code == 0, ingested.output
    assert "new articles      4" in ingested.output
    keys = object_keys(client, bucket_name)
    assert keys and all(key.startswith("lake/") and key.endswith(".parquet") for key in keys), keys
    assert not (tmp_path / "s3:").exists()  # nothing went to a local folder named after the URL

    con = newslake.connect(lake, catalog=catalog_url)
    try:
        files = dict(con.execute("SELECT path, status FROM files").fetchall())
        articles, entities = con.execute("SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM entities)").fetchone()
        data_files = [path for path, in con.execute("SELECT data_file FROM ducklake_list_files('lake', 'articles')").fetchall()]
    finally:
        con.close()
    assert sorted(files.values()) == ["duplicate", "ingested", "ingested", "ingested", "ingested"]
    assert articles == 4 and entities > 0
    assert data_files and all(path.startswith(f"{lake}/") for path in data_files)

    queried = cli.invoke(app, ["sql", "--lake", lake, "--catalog", catalog_url, "--format", "json",
                               "SELECT count(*) AS articles FROM articles"])
    assert queried.exit_code == 0, queried.output
    assert json.loads(queried.output) == [{"articles": 4}]

    again = cli.invoke(app, ["ingest", "--seeds", str(small_inbox), "--lake", lake, "--catalog", catalog_url])
    assert again.exit_code == 0 and "nothing new" in again.output, again.output

    maintained = cli.invoke(app, ["maintain", "--lake", lake, "--catalog", catalog_url, "--retention-days", "0"])
    assert maintained.exit_code == 0 and "data files" in maintained.output, maintained.output
    remaining = {f"s3://{bucket_name}/{key}" for key in object_keys(client, bucket_name)}
    con = newslake.connect(lake, catalog=catalog_url)
    try:
        assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 4
        assert con.execute("SELECT count(*) FROM lake.snapshots()").fetchone()[0] == 1
        tables = [name for name, in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'lake'").fetchall()]
        referenced = {path for table in tables
                      for path, in con.execute("SELECT data_file FROM ducklake_list_files('lake', ?)", [table]).fetchall()}
        counted = footprint(con, lake)
    finally:
        con.close()
    # The batches' small files merged into fewer (those they replaced are deleted by a later run,
    # once past the retention), every referenced file in the bucket, and what maintenance reports
    # counted in the bucket.
    assert referenced <= remaining and len(referenced) < len(keys)
    assert counted.data_files == len(remaining) and counted.snapshots == 1


def test_lake_in_object_storage_without_a_catalog_is_refused_plainly(tmp_path):
    with pytest.raises(ObjectStoreNeedsCatalog):
        LakeLocation("s3://bucket/lake")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    refused = CliRunner().invoke(app, ["ingest", "--seeds", str(inbox), "--lake", "s3://bucket/lake"])
    assert refused.exit_code == 1
    assert "needs a PostgreSQL catalog" in refused.output and "Traceback" not in refused.output


@pytest.mark.parametrize(("environment", "expected"), [
    ({**CREDENTIALS, "AWS_ENDPOINT_URL": "http://127.0.0.1:9000"},
     "CREATE OR REPLACE SECRET newslake_object_store (TYPE s3, KEY_ID 'newslake-test', SECRET 'newslake-test-secret', "
     "REGION 'us-east-1', ENDPOINT '127.0.0.1:9000', URL_STYLE 'path', USE_SSL false)"),
    ({"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "it's", "AWS_DEFAULT_REGION": "eu-west-1",
      "AWS_ENDPOINT_URL": "https://ignored.example", "AWS_ENDPOINT_URL_S3": "https://minio.example:9000/"},
     "CREATE OR REPLACE SECRET newslake_object_store (TYPE s3, KEY_ID 'k', SECRET 'it''s', REGION 'eu-west-1', "
     "ENDPOINT 'minio.example:9000', URL_STYLE 'path', USE_SSL true)"),
    ({"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"},  # AWS itself
     "CREATE OR REPLACE SECRET newslake_object_store (TYPE s3, KEY_ID 'k', SECRET 's', SESSION_TOKEN 't')"),
], ids=["endpoint over http", "s3 endpoint over https, default region", "aws"])
def test_object_store_secret_from_the_aws_environment(environment, expected):
    assert object_store_secret(environment) == expected
