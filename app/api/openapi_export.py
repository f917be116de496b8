"""Print the OpenAPI document: `python -m app.api.openapi_export > openapi/openapi.json`.

Built from the same `build_api` the service runs, with no services and no environment read, so
the output depends on the code alone (a test compares it with the committed file).
"""

from __future__ import annotations

import json
import sys

from app.api.application import build_api
from app.api.auth import TokenAuthority
from app.api.context import ApiConfig
from app.observability.metrics import Metrics


def openapi_document() -> dict[str, object]:
    app = build_api(
        TokenAuthority.from_tokens({}),
        ApiConfig(stats_fresh_seconds=0.0),
        Metrics(),
    )
    return app.openapi()


def render() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=False) + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
