"""SMS arithmetic: GSM-7 / UCS-2 encoding, character and segment counts (pure functions)."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["SmsInfo", "sms_info"]

_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: GSM 03.38 extension table: each costs two septets (escape + character).
_GSM_EXTENSION = frozenset("^{}\\[~]|€\f")


class SmsInfo(NamedTuple):
    """How an SMS text is sent: encoding, characters, encoded units and message parts."""

    encoding: str  # "GSM-7" or "UCS-2"
    characters: int  # Unicode code points
    units: int  # GSM-7 septets or UTF-16 code units
    segments: int  # 0 for an empty text


def sms_info(text: str) -> SmsInfo:
    """Encoding and segment count of ``text``.

    GSM-7 when every character is in the GSM 03.38 basic or extension table (extension characters
    cost 2): 160 septets in one message, 153 per part when split. Otherwise UCS-2: 70 code units
    in one message, 67 per part (characters outside the BMP cost 2). Parts are packed the way
    handsets do it: an escape pair or a surrogate pair is never split across two parts.
    """
    if all(c in _GSM_BASIC or c in _GSM_EXTENSION for c in text):
        encoding, single, part = "GSM-7", 160, 153
        costs = [2 if c in _GSM_EXTENSION else 1 for c in text]
    else:
        encoding, single, part = "UCS-2", 70, 67
        costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
    units = sum(costs)
    if units == 0:
        return SmsInfo(encoding, 0, 0, 0)
    if units <= single:
        return SmsInfo(encoding, len(text), units, 1)
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments, used = segments + 1, 0
        used += cost
    return SmsInfo(encoding, len(text), units, segments)
