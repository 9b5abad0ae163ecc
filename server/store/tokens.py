"""Tokens: one record per name, and the same record under the token's SHA-256 so one read authenticates."""

from __future__ import annotations

import unicodedata

from server import codec
from server.errors import Conflict
from server.models import TokenInfo
from server.store.durability import DurableStore, guard

__all__ = ["TokenStore"]


class TokenStore(DurableStore):
    """Tokens are stored by name and by digest under one hash tag: creating and revoking are one script each."""

    async def create_token(self, info: TokenInfo, digest: str) -> None:
        """Store a token's name, role, events and hash.

        Raises:
            Conflict: a token with this name exists.
        """
        record = codec.pack({**info.model_dump(mode="json"), "hash": digest})
        keys = [self.keys.tokens(), self.keys.token_by_digest(digest)]
        if not await self.run_write(self.script("create_token"), keys, [info.name, record]):
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

    async def revoke_token(self, name: str) -> bool:
        """Delete a token by name (NFC-normalised, as names are stored); True if it existed. Effective at once:
        every request looks the token up."""
        prefix = self.keys.token_by_digest("")
        name = unicodedata.normalize("NFC", name)
        return bool(await self.run_write(self.script("revoke_token"), [self.keys.tokens()], [name, prefix]))

    async def revoke_setting(self, digest: str) -> bool:
        """Revoke the admin token of the ``admin_token`` setting by its SHA-256; True if it was not yet revoked."""
        return bool(await self.run_write(self.script("revoke_setting"), [self.keys.revoked_settings()], [digest]))

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
