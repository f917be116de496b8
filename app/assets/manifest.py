"""The versioned-asset manifest: a JSON file checked in with the code, pinning each asset.

Format (keys sorted, two-space indent, so diffs stay small)::

    {
      "/models/weights.bin": {"version": "1.2.5", "sha256": "<64 hex digits>"},
      "/data/lookup.csv": {"version": "0.1.0", "sha256": "..."},
      "/data/wip.csv": "s3://team-scratch/me/lookup.csv",
      "/data/local.csv": "../scratch/lookup.csv"
    }

A *pinned* entry names an exact version and the SHA-256 of its bytes; every fetch verifies the
bytes against that hash. A string entry is an *override* for iterating before a release: an
`s3://` URL (fetched through the asset cache, revalidated as usual) or a local path (relative
paths resolve against the manifest's directory); overrides pin no hash. A bare version string
(`"1.2.5"`, baiji-pod's form) is refused because it pins no hash: re-add the asset.

Naming scheme of versioned objects (bucket given separately)::

    /<dir>/<stem><ext>  at version X.Y.Z  ->  <dir>/<stem>.vX.Y.Z<ext>
    /models/weights.bin @ 1.2.5           ->  models/weights.v1.2.5.bin
    /dist/tool.tar.gz   @ 2.0.0           ->  dist/tool.v2.0.0.tar.gz

The extension is kept (compound archive suffixes such as `.tar.gz` count as one) so the engine
still recognises delta-eligible files, and every version of one path sits in the same directory,
i.e. the same deltaspace: version N+1 of an archive is stored as a delta against the first one.
A file without an extension gets no suffix: `/bin/tool` @ 1.0.0 -> `bin/tool.v1.0.0`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from app.assets.location import S3Url
from app.assets.versions import Version
from app.domain import files
from app.domain.keys import DEFAULT_DELTA_EXTENSIONS, validate_key
from app.errors import InvalidInput, NotFound

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Pinned:
    version: Version
    sha256: str

    def __post_init__(self) -> None:
        if not _SHA256_RE.match(self.sha256):
            raise InvalidInput(f"invalid sha256 {self.sha256!r}: 64 lower-case hex digits")


@dataclass(frozen=True, slots=True)
class Override:
    """An unpinned location: `s3://BUCKET/KEY` or a local path as written in the manifest."""

    location: str


Entry = Pinned | Override


def normalize_path(logical: str) -> str:
    """`foo/bar.csv` and `/foo/bar.csv` are the same asset; keep the leading-slash form."""
    validate_key(logical.removeprefix("/"))
    return "/" + logical.removeprefix("/")


def split_extension(name: str) -> tuple[str, str]:
    """(`stem`, `ext`) with compound archive suffixes kept whole; a leading dot is not a suffix."""
    lowered = name.lower()
    for ext in DEFAULT_DELTA_EXTENSIONS:
        if lowered.endswith(ext) and len(name) > len(ext):
            return name[: -len(ext)], name[-len(ext) :]
    dot = name.rfind(".")
    if dot <= 0:
        return name, ""
    return name[:dot], name[dot:]


def versioned_key(logical: str, version: Version) -> str:
    """The object key holding `version` of `logical` (see the module docstring)."""
    directory, _, name = normalize_path(logical)[1:].rpartition("/")
    stem, ext = split_extension(name)
    leaf = f"{stem}.v{version}{ext}"
    return validate_key(f"{directory}/{leaf}" if directory else leaf)


def _parse_entry(logical: str, raw: object) -> Entry:
    if isinstance(raw, str):
        if Version.is_version(raw):
            raise InvalidInput(
                f"manifest entry {logical!r} pins version {raw} without a sha256: "
                "re-add it with `glider vc add --version`"
            )
        if not raw:
            raise InvalidInput(f"manifest entry {logical!r} is empty")
        if S3Url.matches(raw):
            S3Url.parse(raw)
        return Override(raw)
    if isinstance(raw, dict) and set(raw) == {"version", "sha256"}:
        version, sha = raw["version"], raw["sha256"]
        if isinstance(version, str) and isinstance(sha, str):
            return Pinned(Version.parse(version), sha.lower())
    raise InvalidInput(
        f"manifest entry {logical!r}: expected {{'version': 'X.Y.Z', 'sha256': '...'}} or a path/URL string"
    )


def _dump_entry(entry: Entry) -> object:
    if isinstance(entry, Pinned):
        return {"version": str(entry.version), "sha256": entry.sha256}
    return entry.location


@dataclass(frozen=True, slots=True)
class Manifest:
    """An immutable snapshot of a manifest file; `with_entry` returns a new one."""

    entries: Mapping[str, Entry]

    @classmethod
    def empty(cls) -> Manifest:
        return cls(MappingProxyType({}))

    @classmethod
    def parse(cls, text: str, origin: str = "manifest") -> Manifest:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidInput(f"{origin} is not valid JSON: {err}") from None
        if not isinstance(raw, dict):
            raise InvalidInput(f"{origin} must be a JSON object of path -> entry")
        entries = {normalize_path(str(path)): _parse_entry(str(path), value) for path, value in raw.items()}
        return cls(MappingProxyType(entries))

    @classmethod
    def load(cls, path: Path, *, missing_ok: bool = False) -> Manifest:
        """Read `path`; a missing file is NotFound, or an empty manifest with `missing_ok`."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if missing_ok:
                return cls.empty()
            raise NotFound(f"manifest {str(path)!r} does not exist") from None
        return cls.parse(text, origin=f"manifest {str(path)!r}")

    def dumps(self) -> str:
        body = {path: _dump_entry(self.entries[path]) for path in sorted(self.entries)}
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    def save(self, path: Path) -> None:
        """Replace the file atomically (readers never see half a manifest)."""
        files.write_text(path, self.dumps())

    def get(self, logical: str) -> Entry:
        """Raise NotFound when the manifest has no entry for `logical`."""
        entry = self.entries.get(normalize_path(logical))
        if entry is None:
            raise NotFound(f"no manifest entry for {normalize_path(logical)!r}")
        return entry

    def with_entry(self, logical: str, entry: Entry) -> Manifest:
        return Manifest(MappingProxyType({**self.entries, normalize_path(logical): entry}))

    def __iter__(self) -> Iterator[tuple[str, Entry]]:
        return iter(sorted(self.entries.items()))
