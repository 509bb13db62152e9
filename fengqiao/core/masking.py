"""Masking of personal data for lists, exports and anyone who does not need the full value.

The rules (docs/personal-data.md):

* phone: mainland numbers lose +86 / 0086; 11 digits or more keep the first 3 and the last 4
  (``138****1234``, ``021****5678``); 7 to 10 digits keep the last 4 (``****6666``); shorter
  numbers keep the last 2 at most; other countries keep their ``+``.
* name: the first character, then one ``*`` per remaining character (``张**``, ``欧**``); a name
  of one character becomes ``*``.
* ID number: 15 characters or more (PRC resident ID) keep the first 3 and the last 4, which hides
  the county code and the date of birth (``110***********123X``); 8 to 14 characters (passports,
  permits) keep the last 4; shorter ones are masked entirely.
* address: kept up to the village, community or street (the last of 省/市/区/县/镇/乡/街道/村/
  社区/路/街/…) before the first house number; what follows becomes ``****``.

Every function takes ``None`` or "" and returns "".
"""

from __future__ import annotations

import re
import unicodedata

STAR = "*"
HIDDEN = "****"

_NON_DIGITS = re.compile(r"\D")


def normalise_phone(value: str | None) -> str:
    """Digits only; a mainland number without its country code, any other with a leading ``+``.

    ``+86 138-1234-1234``, ``0086 13812341234``, ``8613812341234`` and ``138 1234 1234`` all give
    ``13812341234``; ``+852 9123 4567`` and ``00852 9123 4567`` give ``+85291234567``.
    """
    if not value:
        return ""
    text = unicodedata.normalize("NFKC", value).strip()
    international = text.startswith("+")
    digits = _NON_DIGITS.sub("", text)
    if digits.startswith("00"):
        international, digits = True, digits[2:]
    if international:
        if digits.startswith("86"):
            return digits[2:]
        return f"+{digits}" if digits else ""
    if len(digits) == 13 and digits.startswith("861"):
        return digits[2:]
    return digits


def mask_phone(value: str | None) -> str:
    """``13812341234`` → ``138****1234``; see the module docstring for the other lengths."""
    normalised = normalise_phone(value)
    plus = "+" if normalised.startswith("+") else ""
    digits = normalised.lstrip("+")
    n = len(digits)
    if n == 0:
        return ""
    if n >= 11:
        masked = digits[:3] + STAR * (n - 7) + digits[-4:]
    elif n >= 7:
        masked = STAR * (n - 4) + digits[-4:]
    elif n >= 5:
        masked = STAR * (n - 2) + digits[-2:]
    else:
        masked = STAR * n
    return plus + masked


def mask_name(value: str | None) -> str:
    """``张三丰`` → ``张**``, ``张三`` → ``张*``, ``张`` → ``*``, ``John Smith`` → ``J********``."""
    if not value:
        return ""
    name = "".join(unicodedata.normalize("NFKC", value).split())
    if not name:
        return ""
    if len(name) == 1:
        return STAR
    return name[0] + STAR * (len(name) - 1)


def normalise_id_number(value: str | None) -> str:
    """Without spaces and dashes, upper-case (the check character ``x`` becomes ``X``)."""
    if not value:
        return ""
    text = unicodedata.normalize("NFKC", value)
    return re.sub(r"[\s\-]", "", text).upper()


def mask_id_number(value: str | None) -> str:
    """``11010519491231002X`` → ``110***********002X``; see the module docstring."""
    number = normalise_id_number(value)
    n = len(number)
    if n == 0:
        return ""
    if n >= 15:
        return number[:3] + STAR * (n - 7) + number[-4:]
    if n >= 8:
        return STAR * (n - 4) + number[-4:]
    return STAR * n


# The end of a place name kept by mask_address, longest alternatives first. 小区 (an estate), 超市
# and 市场 are not places that end the kept part.
_PLACE_SUFFIX = re.compile(
    r"(?:自治区|自治州|自治县|特别行政区|街道办事处|街道|社区|居委会|村委会|嘎查|苏木|胡同|大道|大街"
    r"|省|(?<!超)市(?!场)|州|盟|(?<!小)区|县|旗|镇|乡|村|屯|路|街|巷)"
)
# Where the private part starts: the first digit, or a number written in Chinese characters
# followed by a house unit (三组, 十五号, 二单元).
_HOUSE_NUMBER = re.compile(r"\d|[零〇一二三四五六七八九十百千两]+(?:号|组|队|栋|幢|楼|单元|室|户|层|弄|排)")


def mask_address(value: str | None) -> str:
    """Keep the address up to its village/community/street, hide the rest as ``****``.

    ``浙江省杭州市西湖区留下街道东岳村3组15号`` → ``浙江省杭州市西湖区留下街道东岳村****``;
    ``北京市朝阳区建国路88号院2号楼1201`` → ``北京市朝阳区建国路****``. The kept part ends at the
    last place-name suffix before the first house number; an address with no such suffix there is
    hidden entirely. A simple heuristic: it never shows a house number written with digits or with
    Chinese numerals and a unit, and it keeps nothing finer than a street.
    """
    if not value:
        return ""
    address = " ".join(unicodedata.normalize("NFKC", value).split())
    if not address:
        return ""
    house = _HOUSE_NUMBER.search(address)
    head = address[: house.start()] if house else address
    end = 0
    for match in _PLACE_SUFFIX.finditer(head):
        end = match.end()
    kept = address[:end].rstrip()
    if address[end:].strip():
        return kept + HIDDEN
    return kept


# Numbers that may identify a person inside free text: mobile and landline numbers, ID numbers,
# bank cards: any run of 7 or more digits, with spaces or dashes inside it.
_LONG_NUMBER = re.compile(r"(?<![\dA-Za-z])\+?\d(?:[\d \-]{5,}\d)[Xx]?(?![\dA-Za-z])")


def redact_text(value: str | None) -> str:
    """Free text for public pages: every run of 7 or more digits (phone, ID and card numbers, house
    numbers written as numbers) is replaced with ``****``. Names in free text cannot be found
    reliably, so public pages show texts written for the public (answers, results) and the
    reporter's description only after this."""
    if not value:
        return ""

    def hide(match: re.Match) -> str:
        digits = sum(ch.isdigit() for ch in match.group(0))
        return HIDDEN if digits >= 7 else match.group(0)

    return _LONG_NUMBER.sub(hide, value)
