"""decode_bytes: encodings, newline and Unicode normalization, and the files it refuses."""

from __future__ import annotations

import gzip
import io
import random
import unicodedata
import zipfile
from pathlib import Path

import pytest

from tasks.decode import decode_bytes
from tasks.parse import parse_document
from tasks.records import Rejected

PARSE_FIXTURES = Path(__file__).parent / "fixtures" / "parse"
SEED_TEXT = (PARSE_FIXTURES / "newser_seed.txt").read_text(encoding="utf-8")
BBC_TEXT = (PARSE_FIXTURES / "bbc_business_001.txt").read_text(encoding="utf-8")


def rejection_reason(data: bytes) -> str:
    with pytest.raises(Rejected) as error:
        decode_bytes(data)
    return error.value.reason


# --- Encoded fixture files ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture_name", "expected_text", "encoding"),
    [
        ("bbc_business_001.txt", BBC_TEXT, "utf-8"),
        ("bbc_business_001_utf8_bom.txt", BBC_TEXT, "utf-8-sig"),
        ("bbc_business_001_latin1.txt", BBC_TEXT, "iso-8859-1"),
        ("newser_seed.txt", SEED_TEXT, "utf-8"),
        ("newser_seed_cp1252.txt", SEED_TEXT, "cp1252"),
        ("newser_seed_utf16le_bom.txt", SEED_TEXT, "utf-16-le"),
        ("newser_seed_utf16be_bom.txt", SEED_TEXT, "utf-16-be"),
    ],
)
def test_decode_fixture_encoding(fixture_name: str, expected_text: str, encoding: str):
    text, detected = decode_bytes((PARSE_FIXTURES / fixture_name).read_bytes())
    assert (text, detected) == (expected_text, encoding)


@pytest.mark.parametrize(
    "fixture_name",
    [
        "newser_seed.txt",
        "newser_seed_cp1252.txt",
        "newser_seed_utf16le_bom.txt",
        "newser_seed_utf16be_bom.txt",
    ],
)
def test_decode_then_parse_seed_in_any_encoding(fixture_name: str):
    article = parse_document(decode_bytes((PARSE_FIXTURES / fixture_name).read_bytes())[0])
    assert article.image_credit == "AP Photo/Andrew Marienko"
    assert "senior leaders can\u2019t pick up a phone" in article.body


def test_decode_latin1_pound_sign():
    text, _ = decode_bytes((PARSE_FIXTURES / "bbc_business_001_latin1.txt").read_bytes())
    assert "$1.13bn (\u00a3600m)" in text


# --- Encodings from bytes made here ---------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected_text"),
    [
        (
            b"He said \x93hello\x94 and \x91bye\x92 \x96 twice\x85",
            "He said \u201chello\u201d and \u2018bye\u2019 \u2013 twice\u2026",
        ),
        (b"It\x92s a \x80100 deal", "It\u2019s a \u20ac100 deal"),
    ],
    ids=["curly-quotes", "apostrophe-and-euro"],
)
def test_decode_cp1252_punctuation(data: bytes, expected_text: str):
    assert decode_bytes(data) == (expected_text, "cp1252")


@pytest.mark.parametrize(
    "text",
    [
        "Caf\u00e9 M\u00fcller na\u00efve r\u00e9sum\u00e9",
        "Prices rose to \u00a3600m this year.\n" * 40,
    ],
)
def test_decode_latin1_text(text: str):
    assert decode_bytes(text.encode("latin-1")) == (text, "iso-8859-1")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_decode_bom_stripped(encoding: str):
    bom = "\ufeff".encode(encoding)
    text, detected = decode_bytes(bom + "Headline\u2019s here\n\nBody.".encode(encoding))
    assert (text, detected) == ("Headline\u2019s here\n\nBody.", encoding)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_decode_utf16_without_bom(encoding: str):
    text = "A headline\n\nA body paragraph with an apostrophe\u2019s worth of text.\n"
    assert decode_bytes(text.encode(encoding)) == (text, encoding)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_decode_utf16_truncated_mid_character(encoding: str):
    data = ("\ufeffCut off here").encode(encoding)[:-1]
    assert decode_bytes(data) == ("Cut off her\ufffd", encoding)


def test_decode_utf8_bom_stripped():
    assert decode_bytes(b"\xef\xbb\xbfHello") == ("Hello", "utf-8-sig")


def test_decode_utf8_with_few_invalid_bytes_uses_replacement():
    data = (
        ("The company\u2019s \u201cprofits\u201d rose. " * 20).encode() + b"\xff\xfe" + b" The end."
    )
    text, encoding = decode_bytes(data)
    assert encoding == "utf-8"
    assert "\u2019" in text and "\ufffd" in text
    assert "\u00e2\u20ac" not in text  # no cp1252 mojibake of the curly quotes


def test_decode_utf8_bom_with_invalid_byte_uses_replacement():
    assert decode_bytes(b"\xef\xbb\xbfCaf\xe9 ok") == ("Caf\ufffd ok", "utf-8-sig")


def test_decode_utf8_truncated_mid_character():
    text, encoding = decode_bytes("It\u2019s cut off \u2019".encode()[:-1])
    assert (text, encoding) == ("It\u2019s cut off \ufffd", "utf-8")


def test_decode_cyrillic_legacy_code_page_falls_back_to_detection():
    text = (
        "Привет! Это тестовая статья о погоде в Москве. Завтра будет дождь и сильный ветер.\n"
    ) * 5
    decoded, _ = decode_bytes(text.encode("cp1251"))
    assert decoded == text


# --- Normalization --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected_text"),
    [
        (b"One\r\nTwo\r\n", "One\nTwo\n"),
        (b"One\rTwo\r", "One\nTwo\n"),
        (b"One\r\n\r\nTwo", "One\n\nTwo"),
    ],
    ids=["crlf", "cr", "crlf-blank-line"],
)
def test_decode_newlines_normalized(data: bytes, expected_text: str):
    assert decode_bytes(data)[0] == expected_text


def test_decode_nfc_normalized():
    text, _ = decode_bytes("Cafe\u0301 and re\u0301sume\u0301".encode())
    assert text == "Caf\u00e9 and r\u00e9sum\u00e9"
    assert unicodedata.is_normalized("NFC", text)


@pytest.mark.parametrize(
    ("data", "expected_text"),
    [
        (b"Hello\x00 world\x00, this is text.\n", "Hello world, this is text.\n"),
        (b"A long article body. " * 50 + b"\x00\x00\x00", "A long article body. " * 50),
        (
            "Stray\x00 NUL beside a curly\u2019s quote".encode(),
            "Stray NUL beside a curly\u2019s quote",
        ),
    ],
    ids=["short", "trailing-nuls", "with-utf8"],
)
def test_decode_stray_nuls_stripped(data: bytes, expected_text: str):
    assert decode_bytes(data)[0] == expected_text


# --- Refusals -------------------------------------------------------------------------------


def test_decode_empty():
    assert rejection_reason(b"") == "empty"


@pytest.mark.parametrize(
    "data",
    [
        b" ",
        b"\n\n\n",
        b" \t\r\n ",
        "\u00a0\u2003\n".encode(),
        "\ufeff  \n".encode(),
        b"\xef\xbb\xbf\n",
    ],
    ids=[
        "space",
        "newlines",
        "mixed",
        "unicode-spaces",
        "bom-char-then-spaces",
        "bom-then-newline",
    ],
)
def test_decode_only_whitespace(data: bytes):
    assert rejection_reason(data) == "only whitespace"


def make_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("article.txt", "Headline\n\nBody.")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "binary (PNG image)"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64), "binary (JPEG image)"),
        (b"GIF89a" + bytes(range(64)), "binary (GIF image)"),
        (b"GIF87a" + bytes(range(64)), "binary (GIF image)"),
        (gzip.compress(b"Headline\n\nBody.", mtime=0), "binary (gzip)"),
        (make_zip(), "binary (zip)"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "binary (PDF)"),
    ],
    ids=["png", "jpeg", "gif89", "gif87", "gzip", "zip", "pdf"],
)
def test_decode_binary_with_known_magic(data: bytes, reason: str):
    assert rejection_reason(data) == reason


@pytest.mark.parametrize("size", [64, 512, 4096, 100_000])
@pytest.mark.parametrize("seed", range(5))
def test_decode_random_bytes_are_binary(size: int, seed: int):
    assert rejection_reason(random.Random(seed).randbytes(size)) == "binary"


@pytest.mark.parametrize(
    "data",
    [
        bytes(1000),
        b"\x00" * 500 + b"some text" + b"\x00" * 500,
        b"text\x01\x02\x03\x04\x05\x06\x07\x08 more text\x0e\x0f\x10",
        bytes(range(32)) * 20,
        b"\xfe\xff\xd8\x00",  # UTF-16 BE BOM followed by a lone surrogate
    ],
    ids=["all-nuls", "nul-padded", "control-heavy", "control-range", "broken-utf16"],
)
def test_decode_control_heavy_is_binary(data: bytes):
    assert rejection_reason(data) == "binary"
