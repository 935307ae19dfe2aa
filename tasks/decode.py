"""Raw file bytes -> text: pick the encoding, refuse what is not text.

Runs on every file, so the common case (clean UTF-8) costs one strict decode plus a few
C-level byte scans; charset-normalizer is only asked when the cheap rules cannot decide.
"""

from __future__ import annotations

import re
import unicodedata

from tasks.records import Rejected

# Known file signatures, checked first so the reason can say what the file is.
_MAGIC_REASONS: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "binary (PNG image)"),
    (b"\xff\xd8\xff", "binary (JPEG image)"),
    (b"GIF87a", "binary (GIF image)"),
    (b"GIF89a", "binary (GIF image)"),
    (b"\x1f\x8b", "binary (gzip)"),
    (b"PK\x03\x04", "binary (zip)"),
    (b"PK\x05\x06", "binary (zip)"),
    (b"%PDF-", "binary (PDF)"),
    (b"\xfd7zXZ\x00", "binary (xz)"),
    (b"(\xb5/\xfd", "binary (zstd)"),
    (b"7z\xbc\xaf\x27\x1c", "binary (7z)"),
    (b"\x7fELF", "binary (executable)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "binary (MS Office document)"),
)
_MAGIC_PREFIXES = tuple(magic for magic, _ in _MAGIC_REASONS)

# UTF-32 before UTF-16: the UTF-32 LE BOM starts with the UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)

# C0 controls that never occur in text (tab, newlines and form feed do), plus DEL.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F])
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
_HIGH_BYTES = bytes(range(0x80, 0x100))
_C1_BYTES = bytes(range(0x80, 0xA0))

# Share of control bytes above which a file is binary: random bytes sit near 11%, so a file
# that is not UTF-8 must stay well below that; valid UTF-8 (which random bytes never are) with
# stray NULs is allowed more before it counts as NUL-padded binary.
_MAX_CONTROL_SHARE = 0.05
_MAX_CONTROL_SHARE_IN_UTF8 = 0.1
# Western European text in an 8-bit code page has few non-ASCII bytes; above this share the
# bytes are more likely another script (Cyrillic, Greek, CJK) and charset-normalizer decides.
_MAX_WESTERN_HIGH_SHARE = 0.3
# UTF-8 with a few corrupt bytes: replacement wins over a legacy code page when the corrupt
# bytes are this rare and the file also holds valid multi-byte sequences.
_MAX_INVALID_UTF8_SHARE = 0.05


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode a raw file to NFC text with "\\n" newlines; return (text, encoding name).

    Raises Rejected("empty" | "only whitespace" | "binary" | "binary (<kind>)").
    """
    if not data:
        raise Rejected("empty")
    if data.startswith(_MAGIC_PREFIXES):
        raise Rejected(_magic_reason(data))
    text, encoding = _decode_with_bom(data) or _decode_without_bom(data)
    return _normalize_text(text), encoding


def _magic_reason(data: bytes) -> str:
    return next(reason for magic, reason in _MAGIC_REASONS if data.startswith(magic))


def _decode_with_bom(data: bytes) -> tuple[str, str] | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            payload = data[len(bom) :]
            if encoding == "utf-8-sig":
                # The BOM declares UTF-8, so a corrupt byte is corruption, not another encoding.
                return _strip_control_chars(payload.decode("utf-8", "replace")), encoding
            try:
                return _strip_control_chars(payload.decode(encoding)), encoding
            except UnicodeDecodeError as error:
                if error.reason != "truncated data":
                    raise Rejected("binary") from None
                # A file cut off mid-character is still text.
                return _strip_control_chars(payload.decode(encoding, "replace")), encoding
    return None


def _decode_without_bom(data: bytes) -> tuple[str, str]:
    control_share = 0.0
    without_controls = data.translate(None, _CONTROL_BYTES)
    if len(without_controls) < len(data):
        utf16 = _decode_utf16_without_bom(data)
        if utf16 is not None:
            return utf16
        control_share = 1 - len(without_controls) / len(data)
        if control_share > _MAX_CONTROL_SHARE_IN_UTF8:
            raise Rejected("binary")
        # A few stray NULs or control bytes in otherwise normal text: drop them. Safe before
        # decoding because these byte values never occur inside a multi-byte UTF-8 sequence.
        data = without_controls

    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as error:
        if error.reason == "unexpected end of data":
            # Valid UTF-8 cut off mid-character at the end of the file.
            return data.decode("utf-8", "replace"), "utf-8"
    if control_share > _MAX_CONTROL_SHARE:
        raise Rejected("binary")

    mostly_valid_utf8 = _decode_mostly_valid_utf8(data)
    if mostly_valid_utf8 is not None:
        return mostly_valid_utf8, "utf-8"

    high_count = len(data) - len(data.translate(None, _HIGH_BYTES))
    if high_count / len(data) <= _MAX_WESTERN_HIGH_SHARE:
        # Without bytes 0x80-0x9F, cp1252 and Latin-1 agree; with them, only cp1252 is text
        # (curly quotes, dashes, euro sign), since in Latin-1 they are C1 controls.
        if len(data) == len(data.translate(None, _C1_BYTES)):
            return data.decode("latin-1"), "iso-8859-1"
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            pass  # bytes undefined in cp1252: let charset-normalizer decide

    return _decode_with_charset_normalizer(data)


def _decode_utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """UTF-16 text of mostly Latin script has a NUL in every other byte, on one side only."""
    pairs = len(data) // 2
    if pairs == 0:
        return None
    nuls_at_even = data[0::2].count(0)
    nuls_at_odd = data[1::2].count(0)
    if nuls_at_odd >= pairs / 2 and nuls_at_even <= pairs / 20:
        encoding = "utf-16-le"
    elif nuls_at_even >= pairs / 2 and nuls_at_odd <= pairs / 20:
        encoding = "utf-16-be"
    else:
        return None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    return _strip_control_chars(text), encoding


def _strip_control_chars(text: str) -> str:
    """Drop stray control chars from decoded text; reject text made largely of them."""
    cleaned = _CONTROL_CHARS.sub("", text)
    if text and (len(text) - len(cleaned)) / len(text) > _MAX_CONTROL_SHARE:
        raise Rejected("binary")
    return cleaned


def _decode_mostly_valid_utf8(data: bytes) -> str | None:
    """UTF-8 with a few corrupt bytes, told apart from a legacy code page by the valid
    multi-byte sequences around the corrupt ones (Latin-1 text has almost none)."""
    text = data.decode("utf-8", "replace")
    invalid_count = text.count("\ufffd")
    non_ascii_count = len(text) - len(text.encode("ascii", "ignore"))
    valid_multibyte_count = non_ascii_count - invalid_count
    if (
        invalid_count / len(data) <= _MAX_INVALID_UTF8_SHARE
        and valid_multibyte_count >= invalid_count
    ):
        return text
    return None


def _decode_with_charset_normalizer(data: bytes) -> tuple[str, str]:
    from charset_normalizer import from_bytes  # only needed for the rare undecided file

    best = from_bytes(data).best()
    if best is None:
        raise Rejected("binary")
    return str(best), best.encoding


def _normalize_text(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if text.startswith("\ufeff"):  # a second BOM, or one charset-normalizer kept
        text = text[1:]
    if not text.strip():
        raise Rejected("only whitespace")
    return text
