"""Text normalisation to the model alphabet (streamasr.vocab): lowercase a-z, apostrophe, space.

Why: a CTC model can only be trained on labels it can spell, and a TTS engine reads "$5" as
"five dollars", so the label must say so too. Numbers, ordinals, years, decades, currency,
percentages, times and common symbols are spelled out with num2words; other punctuation goes;
apostrophes inside words stay ("don't"). Text that cannot be spelled reliably (foreign letters,
code, URLs, acronyms a TTS engine may spell letter by letter, roman numerals) raises
`Unconvertible` rather than producing a label that disagrees with the audio.
"""

from __future__ import annotations

import re
import unicodedata

from num2words import num2words

from streamasr.vocab import CHARS


class Unconvertible(ValueError):
    """The text cannot be spelled in the model alphabet with confidence."""


_ALPHABET = frozenset(CHARS)

# Typographic characters with a plain-ASCII reading.
_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u02bc": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": " - ",
        "\u2014": " - ",
        "\u2015": " - ",
        "\u2026": "...",
        "\u00a0": " ",
        "\u00bd": " 1/2 ",
        "\u00bc": " 1/4 ",
        "\u00be": " 3/4 ",
        "\u00a3": " £",
        "\u20ac": " €",
    }
)

# Abbreviations whose full stop is not a sentence end; text.py uses this list when splitting.
ABBREVIATIONS: dict[str, str] = {
    "mr": "mister",
    "mrs": "missus",
    "ms": "miss",
    "dr": "doctor",
    "st": "saint",
    "jr": "junior",
    "sr": "senior",
    "prof": "professor",
    "gen": "general",
    "capt": "captain",
    "col": "colonel",
    "lt": "lieutenant",
    "sgt": "sergeant",
    "rev": "reverend",
    "vs": "versus",
    "etc": "et cetera",
    "approx": "approximately",
    "dept": "department",
    "no": "number",
}
_MULTI_ABBREVIATIONS = {"e.g.": "for example", "i.e.": "that is", "a.m.": "a m", "p.m.": "p m"}

_CURRENCY = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
}
_SCALES = ("thousand", "million", "billion", "trillion")
_SYMBOLS = {"&": " and ", "@": " at ", "+": " plus ", "=": " equals ", "%": " percent "}
_SYMBOLS.update({"#": " number ", "°": " degrees "})
# Characters that signal code, markup or ASCII art: such text is dropped, not spelled.
_CODE_CHARS = re.compile(r"[{}<>|\\^~_\[\]]")
_URL = re.compile(r"(https?://|www\.|ftp\.|\w@\w|\.(com|org|net|edu|gov)\b)", re.IGNORECASE)
_ROMAN = re.compile(r"^(?=[MDCLXVI]{2,}$)M*(C[MD]|D?C{0,3})(X[CL]|L?X{0,3})(I[XV]|V?I{0,3})$")
_ACRONYM = re.compile(r"\b[A-Z]{2,5}s?\b")
_SPACES = re.compile(r"\s+")
# Old texts (the KJV, older fortunes) split or hyphenate "today" and "tomorrow". The speech is
# the same, so one spelling keeps the labels and the LM from teaching both; "day to day" stays.
_ARCHAIC_COMPOUNDS = ((re.compile(r"(?<!\bday )\bto day\b"), "today"),
                      (re.compile(r"\bto morrow\b"), "tomorrow"))  # fmt: skip
_ORDINAL_OR_DECADE = re.compile(r"\b\d+(?:st|nd|rd|th)\b|'?\b\d+'?s\b|\d(?=\s?[ap]\.?m\b)", re.I)


def _number_words(value: str) -> str:
    """Spell an unsigned integer or decimal numeral (commas as thousands separators allowed)."""
    value = value.replace(",", "")
    if "." in value:
        whole, frac = value.split(".", 1)
        head = num2words(int(whole or "0"))
        return f"{head} point " + " ".join(num2words(int(d)) for d in frac)
    return str(num2words(int(value)))


def _year_words(year: int) -> str:
    return str(num2words(year, to="year"))


def _plural(words: str) -> str:
    """'nineteen sixty' -> 'nineteen sixties'."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    return words + "s"


def _currency(m: re.Match[str]) -> str:
    one, many, sub_one, sub_many = _CURRENCY[m["sym"]]
    amount, scale = m["amount"].replace(",", ""), m["scale"]
    if scale:
        return f" {_number_words(amount)} {scale.lower()} {many} "
    whole, _, cents = amount.partition(".")
    n = int(whole or "0")
    parts = [f"{num2words(n)} {one if n == 1 else many}"] if n or not cents else []
    if cents:
        c = int((cents + "0")[:2])
        if c:
            parts.append(f"{num2words(c)} {sub_one if c == 1 else sub_many}")
    return " " + " and ".join(parts) + " "


def _fraction(m: re.Match[str]) -> str:
    num, den = int(m["num"]), int(m["den"])
    if den == 2:
        return " one half " if num == 1 else f" {num2words(num)} halves "
    if den == 4:
        return " one quarter " if num == 1 else f" {num2words(num)} quarters "
    if 2 < den < 20 and num < den:
        ordinal = num2words(den, to="ordinal")
        return f" {num2words(num)} {ordinal if num == 1 else ordinal + 's'} "
    return f" {num2words(num)} over {num2words(den)} "


def _time(m: re.Match[str]) -> str:
    hours, minutes = int(m["h"]), int(m["m"])
    suffix = f" {m['ampm'][0]} m " if m["ampm"] else " "
    if minutes == 0:
        return f" {num2words(hours)}" + (suffix if m["ampm"] else " o'clock ")
    if minutes < 10:
        return f" {num2words(hours)} oh {num2words(minutes)}" + suffix
    return f" {num2words(hours)} {num2words(minutes)}" + suffix


def _decade(m: re.Match[str]) -> str:
    digits = m["d"]
    if len(digits) == 4:
        return " " + _plural(_year_words(int(digits))) + " "
    return " " + _plural(str(num2words(int(digits)))) + " "


def _bare_number(m: re.Match[str]) -> str:
    text = m.group(0)
    plain = text.replace(",", "")
    if "." not in plain and len(plain) == 4 and "," not in text and 1100 <= int(plain) <= 2099:
        return " " + _year_words(int(plain)) + " "
    return " " + _number_words(text) + " "


_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_RULES: tuple[tuple[re.Pattern[str], object], ...] = (
    (
        re.compile(
            rf"(?P<sym>[$£€])\s?(?P<amount>{_NUM})(?:\s(?P<scale>{'|'.join(_SCALES)})\b)?",
            re.IGNORECASE,
        ),
        _currency,
    ),
    (re.compile(rf"(?P<n>{_NUM})\s?%"), lambda m: f" {_number_words(m['n'])} percent "),
    (
        re.compile(r"\b(?P<n>\d+)(?:st|nd|rd|th)\b", re.IGNORECASE),
        lambda m: " " + num2words(int(m["n"]), to="ordinal") + " ",
    ),
    (re.compile(r"(?:\b|')(?P<d>1[1-9]\d0|20[0-9]0|[1-9]0)'?s\b"), _decade),
    (
        re.compile(
            r"\b(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)\b(?:\s?(?P<ampm>[ap])\.?m\b\.?)?", re.I
        ),
        _time,
    ),
    (re.compile(r"\b(?P<num>\d+)/(?P<den>\d+)\b"), _fraction),
    (re.compile(_NUM), _bare_number),
)


def _check_spellable(text: str) -> None:
    if _URL.search(text):
        raise Unconvertible(f"URL or address in {text!r}")
    if _CODE_CHARS.search(text):
        raise Unconvertible(f"code or markup character in {text!r}")
    letters = [c for c in text if c.isalpha()]
    shouting = letters and sum(c.isupper() for c in letters) > 0.8 * len(letters)
    for token in re.findall(r"[A-Za-z]+", text):
        if _ROMAN.match(token) and token not in {"I", "DC", "MD", "MIX", "DID", "LID"}:
            raise Unconvertible(f"roman numeral {token!r}")
    if not shouting:
        acronym = _ACRONYM.search(text)
        if acronym and acronym.group(0) not in {"I", "OK", "AM", "PM"}:
            raise Unconvertible(f"acronym {acronym.group(0)!r} may be spelled letter by letter")
    if re.search(r"[A-Za-z]\d|\d[A-Za-z]", _ORDINAL_OR_DECADE.sub(" ", text)):
        raise Unconvertible(f"token mixing letters and digits in {text!r}")


def _ascii_fold(text: str) -> str:
    """Fold accents (café -> cafe); raise for letters with no ASCII reading."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    folded = folded.replace("\u00e6", "ae").replace("\u0153", "oe").replace("\u00df", "ss")
    bad = [c for c in folded if ord(c) > 127 and c not in "£€°"]
    if bad:
        raise Unconvertible(f"non-ASCII character {bad[0]!r}")
    return folded


def normalize(text: str) -> str:
    """Spell `text` in the model alphabet; raise `Unconvertible` when that cannot be done well."""
    text = re.sub(".\x08", "", text)  # overstriking (bold/underline) in old text files
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    text = _ascii_fold(text)
    _check_spellable(text)
    for abbr, full in _MULTI_ABBREVIATIONS.items():
        text = re.sub(rf"(?<!\w){re.escape(abbr)}", f" {full} ", text, flags=re.IGNORECASE)
    text = re.sub(
        r"\b(" + "|".join(ABBREVIATIONS) + r")\.(?=\s+\w)",
        lambda m: (
            ABBREVIATIONS[m.group(1).lower()]
            if m.group(1)[0].isupper() or m.group(1) in ("etc", "vs")
            else m.group(0)
        ),
        text,
        flags=re.IGNORECASE,
    )
    text = re.sub(r"\betc\.", " et cetera ", text, flags=re.IGNORECASE)
    for pattern, spell in _RULES:
        text = pattern.sub(spell, text)  # type: ignore[call-overload]
    if re.search(r"\d", text):
        raise Unconvertible(f"numeral left after spelling: {text!r}")
    for sym, word in _SYMBOLS.items():
        text = text.replace(sym, word)
    text = text.lower()
    text = re.sub(r"[^a-z' ]", " ", text)
    # Apostrophes survive only between letters: quotes and trailing possessives go.
    text = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", text)
    text = modern_compounds(_SPACES.sub(" ", text).strip())
    if not text:
        raise Unconvertible("nothing speakable left")
    if not set(text) <= _ALPHABET:  # defensive: the rules above should make this impossible
        raise Unconvertible(f"characters outside the alphabet in {text!r}")
    return text


def modern_compounds(text: str) -> str:
    """Normalised text with "to day" and "to morrow" written "today" and "tomorrow"."""
    for pattern, modern in _ARCHAIC_COMPOUNDS:
        text = pattern.sub(modern, text)
    return text


def try_normalize(text: str) -> str | None:
    """`normalize`, or None when the text is unconvertible."""
    try:
        return normalize(text)
    except Unconvertible:
        return None
