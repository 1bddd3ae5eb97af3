"""What a field needs of the request's API key, declared on the field (graph/auth.py `Access`
says what a key may do).

- `Requires(role, doing, database=...)`, a field extension: every mutation has one. Without
  the role (or, when `database` names one, without that profile database) the field is
  refused with `Refused` (FORBIDDEN), which the field's `ExpectedErrors` (graph/errors.py),
  listed after it, answers in `errors`. Queries with an `errors` list use it for their
  database alone (`Requires(database=...)`: the role is viewer, which every key has).
- `answers_empty_unless(role=..., database=...)`: strawberry's permission extension with
  `fail_silently`, for queries without an `errors` list: a database the key cannot see
  (or a name no database can have) does not exist for it, so the field answers null or [].

`database` is the name of the field's argument holding the profile database (left out or
null: main), or a function of the field's arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types.field import StrawberryField

from graph.auth import ROLE_WORDS
from graph.context import value
from graph.errors import ExpectedErrors
from store.errors import StoreInputError
from store.fields import DEFAULT_DATABASE, validate_database_name

DatabaseOf = str | Callable[[dict[str, Any]], str | None] | None


def database_of(database: DatabaseOf, arguments: dict[str, Any]) -> str | None:
    """The profile database a field's arguments name (None when the field names none)."""
    if database is None:
        return None
    if callable(database):
        return database(arguments)
    return value(arguments.get(database), DEFAULT_DATABASE)


def input_database(arguments: dict[str, Any]) -> str:
    """The database of an `input: {database ...}` argument (left out or null: main)."""
    return value(arguments["input"].database, DEFAULT_DATABASE)


class Requires(FieldExtension):
    """The key needs `role` (and to see the database the arguments name) to `doing`."""

    def __init__(self, role: str = "viewer", doing: str = "read", *,
                 database: DatabaseOf = None) -> None:
        if role not in ROLE_WORDS:
            raise ValueError(f"{role!r} is not a role ({', '.join(ROLE_WORDS)})")
        self.role = role
        self.doing = doing
        self.database = database

    def apply(self, field: StrawberryField) -> None:
        # the refusal is data only when an ExpectedErrors wraps this check (listed after it)
        after = field.extensions[field.extensions.index(self) + 1:]
        if not any(isinstance(extension, ExpectedErrors) for extension in after):
            raise TypeError(f"field {field.python_name}: Requires must be followed by "
                            "ExpectedErrors, which answers its refusal in `errors`")

    async def resolve_async(self, next_, source: Any, info, **kwargs: Any) -> Any:
        info.context.access.require(self.role, self.doing, database_of(self.database, kwargs))
        return await next_(source, info, **kwargs)


class KeySees(BasePermission):
    """The key has `role` and sees the database the arguments name (a name no database can
    have names none it sees)."""

    def __init__(self, role: str = "viewer", database: DatabaseOf = None) -> None:
        self.role = role
        self.database = database

    def has_permission(self, source: Any, info, **kwargs: Any) -> bool:
        access = info.context.access
        if not access.key.at_least(self.role):
            return False
        database = database_of(self.database, kwargs)
        if database is None:
            return True
        try:
            validate_database_name(database)
        except StoreInputError:
            return False
        return access.can_see(database)


def answers_empty_unless(role: str = "viewer", database: DatabaseOf = None) -> PermissionExtension:
    """The field answers null (or [] for a list) unless the key has `role` and sees the
    database (strawberry's `fail_silently`; no schema directive, the SDL is unchanged)."""
    return PermissionExtension([KeySees(role, database)], use_directives=False,
                               fail_silently=True)
