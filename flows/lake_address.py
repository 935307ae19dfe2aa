"""The type of the flow setting that says where a lake's data is: a local folder, or with a
PostgreSQL catalog an object storage URL (s3://bucket/prefix), which must stay a string (a Path
would fold its `//`)."""

from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator

from tasks.lake import lake_address

LakeAddress = Annotated[Path | str, BeforeValidator(lake_address)]
