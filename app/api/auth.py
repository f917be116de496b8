"""Bearer tokens with scopes (`upload`, `read`, `admin`).

Tokens come from `Settings.auth.token_scopes()`; only their SHA-256 digests are kept, and a
presented token is compared against every configured digest with `hmac.compare_digest` (no early
exit), so timing reveals neither which token nor how much of one matched. Tokens are never logged.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fastapi import Depends, Request, params
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.errors import Forbidden, InvalidInput, Unauthorized

log = logging.getLogger(__name__)


class Scope(enum.StrEnum):
    UPLOAD = "upload"
    READ = "read"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class TokenAuthority:
    """Who may do what. `enabled=False` lets every request through (local development only)."""

    enabled: bool
    entries: tuple[tuple[bytes, frozenset[str]], ...]
    open_metrics: bool = True
    open_health: bool = True
    open_docs: bool = True

    @classmethod
    def from_tokens(
        cls,
        tokens: Mapping[str, frozenset[str]],
        *,
        enabled: bool = True,
        open_metrics: bool = True,
        open_health: bool = True,
        open_docs: bool = True,
    ) -> TokenAuthority:
        known = {s.value for s in Scope}
        for scopes in tokens.values():
            unknown = set(scopes) - known
            if unknown:
                # Name the scope, never the token.
                raise InvalidInput(f"unknown token scope(s) {sorted(unknown)}; use {sorted(known)}")
        entries = tuple((_digest(tok), frozenset(scopes)) for tok, scopes in tokens.items())
        return cls(enabled, entries, open_metrics, open_health, open_docs)

    def authorize(self, token: str | None, scope: Scope) -> None:
        """Return if `token` carries `scope`; raise Unauthorized (no/unknown token) or Forbidden."""
        if not self.enabled:
            return
        if not token:
            raise Unauthorized("a bearer token is required")
        presented = _digest(token)
        granted: frozenset[str] | None = None
        for digest, scopes in self.entries:
            if hmac.compare_digest(digest, presented):
                granted = scopes
        if granted is None:
            raise Unauthorized("the bearer token is not valid")
        if scope.value not in granted:
            raise Forbidden(f"the token lacks the '{scope.value}' scope")


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


_bearer = HTTPBearer(auto_error=False, description="A token from DG_API_TOKENS")


def authority_of(request: Request) -> TokenAuthority:
    authority = request.app.state.authority
    assert isinstance(authority, TokenAuthority)
    return authority


def require(scope: Scope, *, open_when: Callable[[TokenAuthority], bool] | None = None) -> params.Depends:
    """A route dependency demanding `scope`, skipped when `open_when(authority)` is true."""

    def check(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
    ) -> None:
        authority = authority_of(request)
        if open_when is not None and open_when(authority):
            return
        authority.authorize(credentials.credentials if credentials else None, scope)

    return params.Depends(check)


def is_metrics_open(authority: TokenAuthority) -> bool:
    return authority.open_metrics


def is_health_open(authority: TokenAuthority) -> bool:
    return authority.open_health


def is_docs_open(authority: TokenAuthority) -> bool:
    return authority.open_docs
