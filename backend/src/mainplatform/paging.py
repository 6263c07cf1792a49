"""Keyset paging: opaque cursors that name the kind of list they belong to."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from mainplatform import schemas
from mainplatform.errors import BadRequest


@dataclass(frozen=True, slots=True)
class Cursor:
    """The cursor of one kind of list: ``base64url("<prefix>:<last id>")``. A cursor of
    another list (another prefix) is refused, not misread."""

    prefix: str

    def encode(self, last_id: int) -> str:
        text = f"{self.prefix}:{last_id}".encode()
        return base64.urlsafe_b64encode(text).decode().rstrip("=")

    def decode(self, cursor: str) -> int:
        try:
            text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            prefix, _, number = text.partition(":")
            if prefix != self.prefix or not number.isascii() or not number.isdigit():
                raise ValueError(cursor)
            if len(number) > 19 or int(number) > schemas.MAX_ID:
                raise ValueError(cursor)
            return int(number)
        except (ValueError, binascii.Error):
            raise BadRequest("The cursor is not valid.", code="invalid_cursor") from None


NOTES = Cursor("n")
USERS = Cursor("u")
