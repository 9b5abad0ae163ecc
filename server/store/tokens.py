"""Tokens: one record per name, and the same record under the token's SHA-256 so one read authenticates."""

from __future__ import annotations

import datetime as dt
import unicodedata

from server import codec
from server.errors import Conflict
from server.models import TokenAuditEntry, TokenInfo
from server.store.durability import DurableStore, guard

__all__ = ["TokenStore"]

AUDIT_CAP = 10_000  # entries kept in the audit stream (approximately: XADD MAXLEN ~)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class TokenStore(DurableStore):
    """Tokens are stored by name and by digest under one hash tag: creating and revoking are one script each."""

    async def create_token(self, info: TokenInfo, digest: str, *, by: str) -> None:
        """Store a token's name, role, events and hash, and record in the audit stream that ``by`` made it.

        Raises:
            Conflict: a token with this name exists.
        """
        record = codec.pack({**info.model_dump(mode="json"), "hash": digest})
        keys = [self.keys.tokens(), self.keys.token_by_digest(digest), self.keys.token_audit()]
        args = [info.name, record, by, info.role.value, _now(), AUDIT_CAP]
        if not await self.run_write(self.script("create_token"), keys, args):
            raise Conflict(f"a token named {info.name!r} exists; revoke it first", field="name")

    async def token_by_digest(self, digest: str) -> TokenInfo | None:
        """The token whose SHA-256 is ``digest`` (the key it is stored under), or None."""
        with guard():
            raw = await self.client.get(self.keys.token_by_digest(digest))
        if raw is None:
            return None
        record = codec.unpack(raw)
        record.pop("hash")  # kept in the record for revoking by name
        return TokenInfo.model_validate(record)

    async def revoke_token(self, name: str, *, by: str) -> bool:
        """Delete a token by name (NFC-normalised, as names are stored); True if it existed (then audited as
        revoked by ``by``). Effective at once: every request looks the token up."""
        prefix = self.keys.token_by_digest("")
        name = unicodedata.normalize("NFC", name)
        keys = [self.keys.tokens(), self.keys.token_audit()]
        return bool(await self.run_write(self.script("revoke_token"), keys, [name, prefix, by, _now(), AUDIT_CAP]))

    async def revoke_setting(self, digest: str, *, by: str) -> bool:
        """Revoke the admin token of the ``admin_token`` setting by its SHA-256; True if it was not yet revoked."""
        keys = [self.keys.revoked_settings(), self.keys.token_audit()]
        return bool(await self.run_write(self.script("revoke_setting"), keys, [digest, by, _now(), AUDIT_CAP]))

    async def token_audit(self, count: int) -> list[TokenAuditEntry]:
        """The last ``count`` token creations and revocations, oldest first."""
        with guard():
            raw = await self.client.xrevrange(self.keys.token_audit(), count=count)
        return [
            TokenAuditEntry.model_validate({k.decode(): v.decode() for k, v in fields.items()})
            for _, fields in reversed(raw)
        ]

    async def is_revoked_setting(self, digest: str) -> bool:
        """Whether the setting's admin token with this SHA-256 has been revoked."""
        with guard():
            return bool(await self.client.sismember(self.keys.revoked_settings(), digest))

    async def list_tokens(self) -> list[TokenInfo]:
        """Every token, by name (never their secrets: only digests are stored)."""
        with guard():
            raw = await self.client.hvals(self.keys.tokens())
        out = []
        for item in raw:
            record = codec.unpack(item)
            record.pop("hash", None)
            out.append(TokenInfo.model_validate(record))
        return sorted(out, key=lambda t: t.name)
