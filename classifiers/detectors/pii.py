"""Phone numbers, emails, postcodes, addresses, dates of birth, car registrations
and NHS numbers, by regular expression on the raw text (patterns in pii.toml).

The setting's own public phone number, address and postcode are not findings.
"""
from __future__ import annotations

import re
from bisect import bisect_right

from monitor.core.settings import SettingConfig

from ..lexicon import load_toml
from .base import Analysis, Hit

_DIGITS = re.compile(r"\D")
_WORTH_LOOKING = re.compile(r"[\d@]")


def nhs_checksum_ok(number: str) -> bool:
    digits = [int(c) for c in _DIGITS.sub("", number)]
    if len(digits) != 10:
        return False
    total = sum(d * w for d, w in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == digits[9]


class PiiDetector:
    name = "pii"
    labels = ("confidentiality",)

    def __init__(self, setting: SettingConfig):
        self.patterns = []
        for raw in load_toml("pii.toml")["pattern"]:
            self.patterns.append((raw, re.compile(raw["regex"])))
        public = " ".join(filter(None, [setting.public_phone, setting.public_address]))
        self.public_digits = {_DIGITS.sub("", m) for m in re.findall(r"[\d\s()+-]{7,}", public)} - {""}
        self.public_text = public.lower()
        self.public_numbers = {_DIGITS.sub("", setting.public_phone or "")} - {""}

    def _is_public(self, pid: str, text: str) -> bool:
        if pid in ("uk_mobile", "uk_landline"):
            digits = _DIGITS.sub("", text)
            if digits.startswith("44"):
                digits = "0" + digits[2:]
            return digits in self.public_numbers
        return text.lower().strip(" ,") in self.public_text

    def detect(self, analysis: Analysis) -> list[Hit]:
        text = analysis.text
        if not _WORTH_LOOKING.search(text):
            return []
        hits: list[Hit] = []
        covered: list[tuple[int, int]] = []
        for raw, rx in self.patterns:
            for m in rx.finditer(text):
                s, e = m.span()
                if any(a < e and s < b for a, b in covered):
                    continue  # the first (more specific) pattern keeps the span
                pid = raw["id"]
                if raw.get("checksum") == "nhs" and not nhs_checksum_ok(m.group()):
                    continue
                if raw.get("require_upper") and not m.group().isupper():
                    continue
                if self._is_public(pid, m.group()):
                    continue
                if pid == "car_registration" and not re.search(r"\d", m.group()):
                    continue
                hits.append(Hit(self.name, pid, "confidentiality", s, e, float(raw["score"]),
                                raw.get("severity", "medium"), raw.get("note", "")))
                covered.append((s, e))
        if hits:
            _attach_tokens(analysis, hits)
        return hits


def _attach_tokens(analysis: Analysis, hits: list[Hit]) -> None:
    starts = [t.idx for t in analysis.tokens]
    for h in hits:
        h.start_tok = max(0, bisect_right(starts, h.start_char) - 1)
        h.end_tok = max(h.start_tok + 1, bisect_right(starts, max(h.start_char, h.end_char - 1)))
