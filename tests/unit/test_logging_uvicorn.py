"""uvicorn's own log lines come out as the app's JSON, however uvicorn was started.

Its command line (`uvicorn --factory app.main:create_app`) installs plain-text handlers on its
loggers before the app is built; `glider serve` passes `log_config=None` so they propagate.
"""

from __future__ import annotations

import json
import logging
import logging.config
from collections.abc import Iterator

import pytest
from uvicorn.config import LOGGING_CONFIG

from app.observability.logging import configure_logging

NAMES = ("", "uvicorn", "uvicorn.error", "uvicorn.access")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate) for n in NAMES}
    levels = {n: logging.getLogger(n).level for n in NAMES}
    yield
    for name, (handlers, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.propagate = propagate
        logger.setLevel(levels[name])


def emit_uvicorn_lines() -> None:
    logging.getLogger("uvicorn.error").info(
        "Uvicorn running on %s", "http://0.0.0.0:8080", extra={"color_message": "\x1b[1m%s\x1b[0m"}
    )
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/healthz", "1.1", 200
    )


def test_uvicorn_cli_handlers_switch_to_json(capsys: pytest.CaptureFixture[str]) -> None:
    logging.config.dictConfig(LOGGING_CONFIG)  # what `uvicorn ...` does before loading the app
    configure_logging("INFO", json_format=True)
    emit_uvicorn_lines()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["logger"], line["msg"]) for line in lines] == [
        ("uvicorn.error", "Uvicorn running on http://0.0.0.0:8080"),
        ("uvicorn.access", '127.0.0.1:5000 - "GET /healthz HTTP/1.1" 200'),
    ]
    assert all("color_message" not in line for line in lines)


def test_switched_off_access_log_stays_off(capsys: pytest.CaptureFixture[str]) -> None:
    # uvicorn with access_log=False empties the access logger's handlers and stops propagation.
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False
    configure_logging("INFO", json_format=True)
    emit_uvicorn_lines()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["logger"] for line in lines] == ["uvicorn.error"]
