from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from app.assets.manifest import Manifest, Override, Pinned, normalize_path, split_extension, versioned_key
from app.assets.versions import Version
from app.errors import InvalidInput, NotFound, ReservedKey

SHA = "ab" * 32


@pytest.mark.parametrize(
    ("logical", "version", "key"),
    [
        ("/foo/bar.csv", "1.2.5", "foo/bar.v1.2.5.csv"),
        ("foo/bar.csv", "1.2.5", "foo/bar.v1.2.5.csv"),
        ("/dist/tool.tar.gz", "2.0.0", "dist/tool.v2.0.0.tar.gz"),
        ("/dist/Tool.TAR.GZ", "2.0.0", "dist/Tool.v2.0.0.TAR.GZ"),
        ("/bin/tool", "1.0.0", "bin/tool.v1.0.0"),
        ("/conf/.env", "0.1.0", "conf/.env.v0.1.0"),
        ("/top.json", "0.0.1", "top.v0.0.1.json"),
        ("/a/archive.v1.zip", "3.0.0", "a/archive.v1.v3.0.0.zip"),
    ],
)
def test_naming_scheme(logical: str, version: str, key: str) -> None:
    assert versioned_key(logical, Version.parse(version)) == key


def test_all_versions_of_a_path_share_a_directory_and_keep_the_extension() -> None:
    keys = [versioned_key("/pkg/app.zip", Version(1, 0, n)) for n in range(3)]
    assert {k.rpartition("/")[0] for k in keys} == {"pkg"}
    assert all(k.endswith(".zip") for k in keys)
    assert len(set(keys)) == 3


def test_split_extension_prefers_compound_suffixes() -> None:
    assert split_extension("a.tar.gz") == ("a", ".tar.gz")
    assert split_extension("a.gz") == ("a", ".gz")
    assert split_extension("noext") == ("noext", "")
    assert split_extension(".tar.gz") == (".tar", ".gz")


@pytest.mark.parametrize("bad", ["", "/", "/a/../b", "/a//b", "/dir/"])
def test_bad_logical_paths_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_path(bad)


def test_reserved_names_are_refused() -> None:
    with pytest.raises(ReservedKey):
        normalize_path("/x/reference.bin")


def test_round_trip_is_sorted_and_stable(tmp_path: Path) -> None:
    m = (
        Manifest.empty()
        .with_entry("/z.csv", Pinned(Version(1, 2, 5), SHA))
        .with_entry("a.json", Override("s3://bucket-one/dev/a.json"))
        .with_entry("/m.bin", Override("../local/m.bin"))
    )
    path = tmp_path / "m.json"
    m.save(path)
    text = path.read_text()
    assert list(json.loads(text)) == ["/a.json", "/m.bin", "/z.csv"]
    assert json.loads(text)["/z.csv"] == {"version": "1.2.5", "sha256": SHA}
    again = Manifest.load(path)
    assert again.entries == m.entries
    assert again.dumps() == text


def test_get_missing_entry_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        Manifest.load(tmp_path / "nope.json")
    assert Manifest.load(tmp_path / "nope.json", missing_ok=True).entries == {}
    with pytest.raises(NotFound, match=r"/x\.csv"):
        Manifest.empty().get("x.csv")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"/a.csv": "1.2.5"}', "without a sha256"),
        ('{"/a.csv": {"version": "1.2.5"}}', "expected"),
        ('{"/a.csv": {"version": "1.2", "sha256": "' + SHA + '"}}', "MAJOR.MINOR.PATCH"),
        ('{"/a.csv": {"version": "1.2.5", "sha256": "xyz"}}', "sha256"),
        ('{"/a.csv": "s3://Bad_Bucket/k"}', "bucket"),
        ('{"/a.csv": 5}', "expected"),
        ("[1, 2]", "JSON object"),
        ("{not json", "not valid JSON"),
    ],
)
def test_malformed_manifests_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Manifest.parse(text)


def test_save_keeps_the_existing_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text("{}")
    path.chmod(0o640)
    Manifest.empty().with_entry("/a", Pinned(Version(1, 0, 0), SHA)).save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    fresh = tmp_path / "new.json"
    Manifest.empty().save(fresh)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".glider-tmp")] == []
