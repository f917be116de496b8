"""Conditional multipart upload of a local file (the admin path: obstore cannot send
If-None-Match on CompleteMultipartUpload): parts read with `pread` on a small pool, abort on any failure.

At most `concurrency` parts are in memory at once; the file is never read whole. Whatever goes
wrong (S3 error, lost If-None-Match race, local read error, file changed underneath) the upload
is aborted before the error propagates, so no object and no pending upload remain.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import GliderError, IntegrityError
from app.storage.s3_errors import translating_botocore as translating

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, CompleteMultipartUploadRequestTypeDef

log = logging.getLogger(__name__)

MAX_PARTS = 10_000  # S3's limit per upload


def read_part(fd: int, offset: int, length: int) -> bytes:
    """Read one part (positional read: threads share the descriptor safely)."""
    return os.pread(fd, length, offset)


@dataclass(frozen=True, slots=True)
class MultipartUpload:
    """One object to write in parts with `client` (shared, thread-safe)."""

    client: S3Client
    endpoint: str
    bucket: str
    key: str
    chunk_bytes: int
    concurrency: int

    def run(self, path: Path, metadata: Mapping[str, str], content_type: str, if_none_match: bool) -> str:
        """Upload `path` and return the quoted ETag S3 gave the completed object."""
        size = path.stat().st_size
        with translating(self.endpoint, self.bucket, self.key):
            upload_id = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, Metadata=dict(metadata), ContentType=content_type
            )["UploadId"]
        try:
            request: CompleteMultipartUploadRequestTypeDef = {
                "Bucket": self.bucket,
                "Key": self.key,
                "UploadId": upload_id,
                "MultipartUpload": {"Parts": self._parts(upload_id, path, size)},
            }
            if if_none_match:
                request["IfNoneMatch"] = "*"
            with translating(self.endpoint, self.bucket, self.key, creating=if_none_match):
                return self.client.complete_multipart_upload(**request)["ETag"]
        except BaseException:
            self._abort(upload_id)
            raise

    def _parts(self, upload_id: str, path: Path, size: int) -> list[CompletedPartTypeDef]:
        chunk = max(self.chunk_bytes, math.ceil(size / MAX_PARTS))
        fd = os.open(path, os.O_RDONLY)
        pool = ThreadPoolExecutor(max_workers=max(1, self.concurrency), thread_name_prefix="glider-part")
        try:
            futures = [
                pool.submit(self._part, upload_id, fd, (number, offset, min(chunk, size - offset)))
                for number, offset in enumerate(range(0, size, chunk), start=1)
            ]
            wait(futures, return_when=FIRST_EXCEPTION)
            for future in futures:  # raise the first failure without waiting for queued parts
                if future.done() and future.exception() is not None:
                    future.result()
            parts = [future.result() for future in futures]
            if os.fstat(fd).st_size != size:
                raise IntegrityError(f"{path} changed size during upload")
            return parts
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            os.close(fd)

    def _part(self, upload_id: str, fd: int, part: tuple[int, int, int]) -> CompletedPartTypeDef:
        number, offset, length = part
        data = read_part(fd, offset, length)
        if len(data) != length:
            raise IntegrityError(f"source file of '{self.key}' shrank during upload")
        with translating(self.endpoint, self.bucket, self.key):
            response = self.client.upload_part(
                Bucket=self.bucket, Key=self.key, UploadId=upload_id, PartNumber=number, Body=data
            )
        return {"PartNumber": number, "ETag": response["ETag"]}

    def _abort(self, upload_id: str) -> None:
        try:
            with translating(self.endpoint, self.bucket, self.key):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=upload_id)
        except GliderError as err:  # keep the original failure; lifecycle rules reap the leftover
            log.warning("could not abort multipart upload of %s/%s: %s", self.bucket, self.key, err)
