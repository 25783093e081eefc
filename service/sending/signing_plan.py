"""DKIM for a send's copies: the signing work that is the same for every reader, done once.

A digest's copies differ only where `personalize` puts each reader's values (the To line,
Message-ID, the List-Unsubscribe token, the two bodies' footers). So a send's plan holds the
SHA-256 of the body begun up to the end of the text part's fixed lead (copied per reader and
fed the rest) and the relaxed form of the signed headers, the fixed ones made once and the
reader's To line, Message-ID and token filled in per reader. A value holding whitespace
(never one of the service's own ids or tokens) is signed the general way, from its header
block. Only for a body that is in canonical form as it is (the caller checks).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from service.mail.dkim import Signer, relaxed_header

_SPACE = re.compile(rb"[ \t\r\n]")


@dataclass(frozen=True)
class SigningPlan:
    """How to sign one send's copies; see the module doc."""

    signer: Signer
    start: Any  # hashlib state over the body's fixed start
    rest: tuple[bytes | str, ...]  # after it: fixed bytes, or the slot whose value comes there
    head_piece: int  # the piece where the header block ends
    head_end: int  # where in it (after the last field's CRLF, before the blank line)
    h: str  # the h= tag
    headers: tuple[bytes | str, ...]  # relaxed headers: fixed bytes, or a slot
    to_slot: str  # the slot whose value is the whole To line
    inline: frozenset[str]  # the slots whose values sit inside a header (ids, tokens)

    @classmethod
    def of(
        cls,
        signer: Signer,
        pieces: Sequence[bytes | str],
        *,
        text_slot: str,
        text_lead: bytes,
        to_slot: str,
        head: bytes,
        stand_ins: Mapping[bytes, str],
    ) -> SigningPlan | None:
        """The plan for a message cut into `pieces` (fixed bytes, or slot names), whose header
        block `head` holds `stand_ins` (bytes -> slot) where a reader's values go inside a
        header; None for a layout it does not know (then each copy is signed whole)."""
        at = next(i for i, p in enumerate(pieces) if isinstance(p, bytes) and b"\r\n\r\n" in p)
        if pieces[at + 1 : at + 2] != [text_slot] or text_slot in pieces[:at]:
            return None
        end = pieces[at].find(b"\r\n\r\n")  # type: ignore[union-attr]
        h, fields = signer.signed_fields(head)
        split = re.compile(b"(" + b"|".join(map(re.escape, stand_ins)) + b")")
        headers: list[bytes | str] = []
        for field in fields:
            if field.startswith(b"to:"):
                headers.append(to_slot)
                continue
            for index, part in enumerate(split.split(field)):
                headers.append(stand_ins[part] if index % 2 else part)
        return cls(
            signer=signer,
            start=hashlib.sha256(pieces[at][end + 4 :] + text_lead),  # type: ignore[index]
            rest=tuple(pieces[at + 2 :]),
            head_piece=at,
            head_end=end + 2,
            h=h,
            headers=tuple(headers),
            to_slot=to_slot,
            inline=frozenset(stand_ins.values()),
        )

    def sign(self, pieces: list[bytes], text_rest: bytes, values: Mapping[str, bytes]) -> bytes:
        """The DKIM-Signature lines of one copy: `pieces` are its bytes (slots filled),
        `text_rest` the text part after its fixed lead, `values` each slot's value."""
        state = self.start.copy()
        state.update(text_rest)
        for item in self.rest:
            state.update(values[item] if isinstance(item, str) else item)
        body_hash = state.digest()
        to_line = values[self.to_slot]
        if any(_SPACE.search(values[slot]) for slot in self.inline) or not to_line.startswith(
            b"To:"
        ):
            head = b"".join(pieces[: self.head_piece]) + pieces[self.head_piece][: self.head_end]
            return self.signer.sign_head(head, body_hash)
        headers = b"".join(
            relaxed_header(b"To", to_line[3:-2])
            if item == self.to_slot
            else values[item]
            if isinstance(item, str)
            else item
            for item in self.headers
        )
        return self.signer.sign_canonical(self.h, headers, body_hash)
