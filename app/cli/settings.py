"""Settings for one CLI command: the environment's, with the command's --endpoint-url applied."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.settings import Settings


def command_settings(endpoint_url: str | None = None) -> Settings:
    """`Settings()` from the environment; a given `endpoint_url` overrides DG_S3_ENDPOINT_URL.

    Imported lazily: reading Settings costs start-up that `--help` should not pay."""
    from app.settings import Settings  # noqa: PLC0415

    settings = Settings()
    if endpoint_url:
        s3 = settings.s3.model_copy(update={"endpoint_url": endpoint_url})
        settings = settings.model_copy(update={"s3": s3})
    return settings
