"""Turning Glider errors into one-line messages and distinct exit statuses."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from app import errors

EXIT_CODES: tuple[tuple[type[errors.GliderError], int], ...] = (
    (errors.InvalidInput, 2),
    (errors.NotFound, 3),
    (errors.ReservedKey, 4),
    (errors.Conflict, 4),
    (errors.IntegrityError, 5),
    (errors.StorageUnavailable, 6),
    (errors.RecompressorUnavailable, 6),
    (errors.CoordinationUnavailable, 6),
    (errors.ComputationPending, 6),
    (errors.AccessDenied, 7),
    (errors.Unauthorized, 7),
    (errors.Forbidden, 7),
    (errors.CodecError, 8),
)


def exit_code_for(err: errors.GliderError) -> int:
    for cls, code in EXIT_CODES:
        if isinstance(err, cls):
            return code
    return 1


@contextmanager
def fail_on_errors() -> Iterator[None]:
    """Print `glider: <message>` on stderr and exit with the error's status."""
    try:
        yield
    except errors.GliderError as err:
        print(f"glider: {err}", file=sys.stderr)
        sys.exit(exit_code_for(err))
    except KeyboardInterrupt:
        print("glider: interrupted", file=sys.stderr)
        sys.exit(130)
