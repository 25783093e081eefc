"""Spellings of one address that name the same reader: what a stranger flooding a mailbox types.

`spellings_of("olena.k@gmail.com")` draws the address with any letter in either case,
the domain's letters in full width (U+FF47 for `g`...), its dots as ideographic, full-width or
half-width full stops (U+3002, U+FF0E, U+FF61), and spaces or tabs around it. Every one normalises (`Address.key`) to the
same reader.
"""

from __future__ import annotations

from hypothesis import strategies as st

DOTS = (".", "\u3002", "\uff0e", "\uff61")


def _full_width(char: str) -> str:
    return chr(ord(char) - 0x21 + 0xFF01) if "!" <= char <= "~" else char


@st.composite
def spellings_of(draw: st.DrawFn, address: str) -> str:
    """A spelling of `address` (ASCII) that normalises to the same reader."""
    local, _, domain = address.rpartition("@")
    local = "".join(draw(st.sampled_from((c.lower(), c.upper()))) for c in local)
    typed_domain = []
    for char in domain:
        if char == ".":
            typed_domain.append(draw(st.sampled_from(DOTS)))
            continue
        char = draw(st.sampled_from((char.lower(), char.upper())))
        typed_domain.append(_full_width(char) if draw(st.booleans()) else char)
    padding = st.text(st.sampled_from(" \t"), max_size=2)
    return draw(padding) + local + "@" + "".join(typed_domain) + draw(padding)
