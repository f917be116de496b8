"""Where an asset lives: an `s3://BUCKET/KEY` URL, or anything else (a local path, used as given)."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.keys import validate_bucket, validate_key
from app.errors import InvalidInput

SCHEME = "s3://"


@dataclass(frozen=True, slots=True)
class S3Url:
    bucket: str
    key: str

    @staticmethod
    def matches(text: str) -> bool:
        return text.startswith(SCHEME)

    @classmethod
    def parse(cls, text: str) -> S3Url:
        """Raise InvalidInput unless `text` is `s3://BUCKET/KEY` with a valid bucket and key."""
        if not cls.matches(text):
            raise InvalidInput(f"not an s3:// URL: {text!r}")
        bucket, sep, key = text[len(SCHEME) :].partition("/")
        if not sep or not key:
            raise InvalidInput(f"invalid URL {text!r}: expected s3://BUCKET/KEY")
        return cls(validate_bucket(bucket), validate_key(key))

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.key}"
