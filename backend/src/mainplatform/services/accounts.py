"""E-mail rules and the user row as the API shows it."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from mainplatform import schemas

_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f.]+(\.[^@\s\x00-\x1f\x7f.]+)+")

USER_COLUMNS = (
    "id, email, display_name, role, disabled, created_at,"
    " (password_hash IS NOT NULL) AS has_password"
)


def normalize_email(email: str) -> str:
    """Trim and NFC-normalise; uniqueness is then case-insensitive (``lower(email)``)."""
    return unicodedata.normalize("NFC", email).strip()


def email_problem(email: str) -> str | None:
    if len(email) > 254:
        return "An e-mail address has at most 254 characters."
    if not _EMAIL.fullmatch(email):
        return "This is not a valid e-mail address."
    return None


def user_out(row: dict[str, Any]) -> schemas.User:
    return schemas.User(
        id=row["id"],
        email=row["email"],
        display_name=row["display_name"],
        role=row["role"],
        disabled=row["disabled"],
        created_at=row["created_at"],
        has_password=row["has_password"],
    )
