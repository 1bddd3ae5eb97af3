"""API keys of the GraphQL server (`api_keys`): who may read and change what.

A key is a random secret (`sqk_` + 43 url-safe characters) shown once, when it is made;
the store keeps only its SHA-256, so a copy of the database gives no working key:

```
{_id: "<sha256 hex of the key>", key_id: "<token_hex(8)>", name, role: "viewer"|"editor"|"admin",
 databases: null | ["main", ...],   # null: every profile database, also ones made later
 development: false, created_at, created_by}
```

Roles: a viewer reads; an editor also writes segments, lists and campaigns; an admin also
declares fields, ingests contacts and events, makes profile databases and API keys.
`databases` limits what a key sees at all: a profile database outside it does not exist
for that key.

The development key (`segmentql serve`) is the one key with `development: true`; setting
another one replaces it, so an old development key stops working.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from store.clock import utc_now
from store.errors import NotFoundError, StoreInputError
from store.fields import require_database

API_KEYS = "api_keys"
ROLES = ("viewer", "editor", "admin")
KEY_PREFIX = "sqk_"
MIN_KEY_LENGTH = 16
MAX_KEY_LENGTH = 512
MAX_NAME_LENGTH = 200
DEVELOPMENT_NAME = "development"


@dataclass(frozen=True)
class ApiKey:
    """A stored key (never the secret): `databases` None means every profile database."""

    key_id: str
    name: str
    role: str
    databases: tuple[str, ...] | None
    created_at: dt.datetime
    created_by: str
    development: bool = False

    @classmethod
    def from_document(cls, document: dict) -> ApiKey:
        databases = document.get("databases")
        return cls(key_id=document["key_id"], name=document["name"], role=document["role"],
                   databases=None if databases is None else tuple(databases),
                   created_at=document["created_at"], created_by=document["created_by"],
                   development=bool(document.get("development")))

    def can_see(self, database: str) -> bool:
        return self.databases is None or database in self.databases

    def at_least(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)



def _role(role: object) -> str:
    text = role.lower() if isinstance(role, str) else role
    if text not in ROLES:
        raise StoreInputError(f"{role!r} is not a role", suggestion="the roles are " + ", ".join(ROLES))
    return text


def _name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise StoreInputError(f"an API key needs a name, not {name!r}")
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH or any(ord(char) < 32 for char in name):
        raise StoreInputError(f"the key name {name[:40]!r} is too long or has control characters")
    return name


def _check_secret(key: object) -> str:
    if (not isinstance(key, str) or not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH
            or not key.isprintable() or any(char.isspace() for char in key)):
        raise StoreInputError(f"an API key is {MIN_KEY_LENGTH} to {MAX_KEY_LENGTH} printable "
                              "characters without spaces")
    return key


async def _databases(db: AsyncDatabase, databases: Iterable[str] | None) -> list[str] | None:
    if databases is None:
        return None
    if isinstance(databases, str):
        raise StoreInputError("give a list of profile databases, not one text")
    names = list(dict.fromkeys(databases))
    for name in names:
        await require_database(db, name)
    return names


async def create_api_key(db: AsyncDatabase, *, name: str, role: str,
                         databases: Iterable[str] | None, actor: str) -> tuple[ApiKey, str]:
    """A new key: (what is stored, the secret). The secret is never stored nor shown again."""
    name, role = _name(name), _role(role)
    names = await _databases(db, databases)
    secret = new_secret()
    document = {"_id": hash_key(secret), "key_id": secrets.token_hex(8), "name": name,
                "role": role, "databases": names, "development": False,
                "created_at": utc_now(), "created_by": actor}
    await db[API_KEYS].insert_one(document)
    return ApiKey.from_document(document), secret


async def ensure_development_key(db: AsyncDatabase, key: str) -> ApiKey:
    """Make `key` the development key (admin, every database); idempotent. A previous
    development key with another secret is removed."""
    key = _check_secret(key)
    digest = hash_key(key)
    existing = await db[API_KEYS].find_one({"_id": digest})
    if existing is not None and not existing.get("development"):
        raise StoreInputError("that key is already an ordinary API key",
                              suggestion="pick another development key")
    if existing is None:
        document = {"_id": digest, "key_id": secrets.token_hex(8), "name": DEVELOPMENT_NAME,
                    "role": "admin", "databases": None, "development": True,
                    "created_at": utc_now(), "created_by": "segmentql serve"}
        try:
            await db[API_KEYS].insert_one(document)
        except DuplicateKeyError:  # set meanwhile by another server on the same store
            document = await db[API_KEYS].find_one({"_id": digest})
        existing = document
    await db[API_KEYS].delete_many({"development": True, "_id": {"$ne": digest}})
    return ApiKey.from_document(existing)


async def find_api_key(db: AsyncDatabase, key: str) -> ApiKey | None:
    """The key whose secret is `key`, or None."""
    if not isinstance(key, str) or not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH:
        return None
    document = await db[API_KEYS].find_one({"_id": hash_key(key)})
    return ApiKey.from_document(document) if document else None


async def list_api_keys(db: AsyncDatabase) -> list[ApiKey]:
    """Every key, by name."""
    keys = [ApiKey.from_document(document) async for document in db[API_KEYS].find({})]
    return sorted(keys, key=lambda key: (key.name.casefold(), key.key_id))


async def revoke_api_key(db: AsyncDatabase, key_id: str) -> ApiKey:
    """Remove a key by its `key_id` (NotFoundError when there is none)."""
    document = await db[API_KEYS].find_one_and_delete({"key_id": key_id}) \
        if isinstance(key_id, str) else None
    if document is None:
        raise NotFoundError(f"no API key with id {key_id}")
    return ApiKey.from_document(document)


__all__ = ["API_KEYS", "ROLES", "ApiKey", "create_api_key", "ensure_development_key",
           "find_api_key", "hash_key", "list_api_keys", "new_secret", "revoke_api_key"]
