"""openapi/openapi.json is generated from the app (`make openapi`) and must not drift."""

from __future__ import annotations

import json
from pathlib import Path

from app.api.openapi_export import openapi_document, render

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"

OPERATIONS = {
    ("post", "/upload"): "uploadObject",
    ("get", "/buckets/{bucket}/stats"): "getBucketStats",
    ("get", "/buckets/{bucket}/objects"): "listObjects",
    ("get", "/buckets/{bucket}/objects/{key}"): "getObject",
    ("head", "/buckets/{bucket}/objects/{key}"): "headObject",
    ("delete", "/buckets/{bucket}/objects/{key}"): "deleteObject",
    ("post", "/admin/clear-cache"): "clearCache",
    ("get", "/healthz"): "getHealth",
    ("get", "/readyz"): "getReadiness",
    ("get", "/metrics"): "getMetrics",
}


def test_committed_spec_is_in_sync() -> None:
    assert COMMITTED.read_text() == render(), "openapi/openapi.json is stale: run `make openapi`"


def test_operation_ids_are_stable() -> None:
    paths = openapi_document()["paths"]
    assert isinstance(paths, dict)
    found = {(method, path): op["operationId"] for path, ops in paths.items() for method, op in ops.items()}
    assert OPERATIONS.items() <= found.items()  # new operations may come; these never change


def test_errors_are_documented_as_problem_json_only() -> None:
    paths = openapi_document()["paths"]
    assert isinstance(paths, dict)
    upload = paths["/upload"]["post"]
    for status in ("400", "401", "413", "503"):
        assert list(upload["responses"][status]["content"]) == ["application/problem+json"]
    assert set(upload["requestBody"]["content"]) == {"application/octet-stream", "multipart/form-data"}
    json.dumps(openapi_document())  # serialisable as is
