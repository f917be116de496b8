"""The one way to build an S3 object store from plain connection values (no Settings here).

Imports obstore (a few ms) but not botocore: a CLI command with static keys in the environment
never loads botocore unless it creates a bucket or uploads a big file conditionally.
"""

from __future__ import annotations

from app.domain.sizes import MiB
from app.storage.s3 import S3ObjectStore
from app.storage.s3_config import S3Options

__all__ = ["MiB", "S3Options", "open_store"]


def open_store(options: S3Options) -> S3ObjectStore:
    """The S3 store for `options`; callers close it."""
    return S3ObjectStore.from_options(options)
