"""Request and response bodies: one typed definition gives validation and the OpenAPI schema."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal, TypeVar

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from mainplatform.errors import BadRequest, ValidationFailed

Email = Annotated[str, Meta(min_length=3, max_length=320, description="An e-mail address")]
Secret = Annotated[str, Meta(min_length=1, max_length=4096)]
Title = Annotated[str, Meta(min_length=1, max_length=200)]
Body = Annotated[str, Meta(max_length=20_000)]
DisplayName = Annotated[str, Meta(max_length=100)]
Role = Literal["user", "admin"]
MAX_ID = 2**63 - 1  # row ids are PostgreSQL bigint


class _In(Struct, forbid_unknown_fields=True, kw_only=True):
    """Request bodies reject unknown fields."""


class Credentials(_In):
    email: Email
    password: Secret


class RefreshRequest(_In):
    refresh_token: Annotated[str, Meta(max_length=512)] | UnsetType = UNSET


class ProfileUpdate(_In):
    display_name: DisplayName | UnsetType = UNSET
    email: Email | UnsetType = UNSET
    current_password: Secret | UnsetType = UNSET


class EmailRequest(_In):
    email: Email


Token = Annotated[str, Meta(min_length=1, max_length=128, description="The token of a link")]


class PasswordReset(_In):
    token: Token
    new_password: Secret


class EmailVerification(_In):
    token: Token


class Accepted(Struct, kw_only=True):
    """The answer to asking for a mail: the same whether or not an account has the address."""

    message: str


class PasswordChange(_In):
    current_password: Secret
    new_password: Secret


class AdminUserUpdate(_In):
    role: Role | UnsetType = UNSET
    disabled: bool | UnsetType = UNSET


class NoteCreate(_In):
    title: Title
    body: Body = ""


class NoteUpdate(_In):
    title: Title | UnsetType = UNSET
    body: Body | UnsetType = UNSET


class User(Struct, kw_only=True):
    id: int
    email: str
    display_name: str
    role: Role
    disabled: bool
    created_at: datetime
    has_password: bool = True  # false for accounts made through the identity provider
    email_verified: bool = False  # the address was proven (a link in a mail, or the IdP)


class UserPage(Struct, kw_only=True):
    items: list[User]
    next_cursor: str | None


class Note(Struct, kw_only=True):
    id: int
    title: str
    body: str
    created_at: datetime
    updated_at: datetime


class NotePage(Struct, kw_only=True):
    items: list[Note]
    next_cursor: str | None


class NotePageRaw(Struct, kw_only=True):
    """``NotePage`` with its items already rendered as JSON by the database."""

    items: msgspec.Raw
    next_cursor: str | None


class TokenResponse(Struct, kw_only=True):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - not a secret
    expires_in: int
    refresh_token: str | None = None


class ErrorField(Struct):
    field: str
    message: str


class ErrorDetail(Struct, omit_defaults=True):
    code: str
    message: str
    fields: list[ErrorField] | None = None


class ErrorBody(Struct):
    error: ErrorDetail


class Provider(Struct, kw_only=True):
    enabled: bool
    name: str


class PasswordPolicy(Struct, kw_only=True):
    """What the password policy needs, for forms to say it before the server does."""

    min_length: int
    max_length: int


class Providers(Struct, kw_only=True):
    oidc: Provider
    password: PasswordPolicy


class ApiInfo(Struct, kw_only=True):
    name: str
    version: str


class Health(Struct, kw_only=True):
    status: Literal["ok"]
    uptime: float
    timestamp: datetime
    version: str


class Readiness(Struct, kw_only=True):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str]


T = TypeVar("T", bound=Struct)

_PATH = re.compile(r" - at `\$\.?([^`]*)`$")
_MISSING = re.compile(r"Object missing required field `([^`]+)`")
_UNKNOWN = re.compile(r"Object contains unknown field `([^`]+)`")


def decode(raw: bytes, kind: type[T]) -> T:
    """Decode and validate a JSON body; client mistakes become 400/422, never 500.

    The mapping does not lean on the JSON library's version or wording: the encoding is
    checked here first (msgspec 0.22 lets a ``UnicodeDecodeError`` escape for bad bytes
    inside a string, 0.23 reports a ``DecodeError``), and text PostgreSQL cannot store is
    refused here after decoding, whatever the decoder accepted.
    """
    if not raw.strip():
        raise BadRequest(
            "The request body is empty; a JSON object was expected.", code="empty_body"
        )
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The request body is not valid UTF-8.", code="invalid_encoding") from None
    try:
        value = msgspec.json.decode(raw, type=kind, strict=True)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(
            "The request body is not valid.", fields=[_field_error(str(exc))]
        ) from None
    except (msgspec.DecodeError, ValueError):
        raise BadRequest("The request body is not valid JSON.", code="malformed_json") from None
    if problem := unstorable_text(value):
        raise field_error(*problem)
    return value


def text_problem(text: str) -> str | None:
    """Why PostgreSQL could not store ``text`` (a NUL, or a lone UTF-16 surrogate), or None."""
    if "\x00" in text:
        return "This field must not contain the NUL character (U+0000)."
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "This field must not contain unpaired surrogate characters."
    return None


def unstorable_text(value: object, path: str = "") -> tuple[str, str] | None:
    """The first string in a decoded body that PostgreSQL cannot store: (field, message)."""
    if isinstance(value, str):
        problem = text_problem(value)
        return (path or "$", problem) if problem else None
    if isinstance(value, Struct):
        for name in value.__struct_fields__:
            found = unstorable_text(getattr(value, name), f"{path}.{name}" if path else name)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if found := unstorable_text(item, f"{path}[{i}]"):
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            if found := unstorable_text(key, path) or unstorable_text(item, f"{path}.{key}"):
                return found
    return None


def _field_error(message: str) -> dict[str, str]:
    field = ""
    if m := _PATH.search(message):
        field = m.group(1)
        message = message[: m.start()]
    if m := _MISSING.search(message):
        field = ".".join(p for p in (field, m.group(1)) if p)
        message = "This field is required."
    elif m := _UNKNOWN.search(message):
        field = ".".join(p for p in (field, m.group(1)) if p)
        message = "Unknown field."
    return {"field": field or "$", "message": message}


def field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        "The request body is not valid.", fields=[{"field": field, "message": message}]
    )
