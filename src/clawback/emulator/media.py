"""Images and PDFs in a request, checked as the API checks them before anything is billed (pure).

For every ``image`` and ``document`` block — in a message, inside a ``tool_result``, inside a
document's ``content`` source — a ``base64`` source must hold valid base64 (standard alphabet;
whitespace and missing padding are tolerated), an image at most 5 MB decoded, whose first bytes
are those of the ``media_type`` it declares (PNG, JPEG, GIF or WebP: ``The image was specified
using the image/jpeg media type, but the image appears to be a image/png image``) and not of
something else (``Could not process image``); a base64 PDF must start like a PDF. Only the first
bytes are decoded, so a 5 MB image costs a regular-expression scan and a few dozen bytes of
decoding. With ``transformations.oversized_image: "error"`` an image whose longest side passes
the limit (8,000 pixels; 2,000 when the request has more than 20 images) is refused with
``error.details.error_code: "image_dimensions_too_large"``; by default the API scales it down,
so it is served.

``url`` and ``file`` sources are accepted as they are: the emulator neither fetches URLs nor
emulates the Files API. Messages follow the API's wording where it is known; the others are
the emulator's (see ``docs/emulator.md``).
"""

from __future__ import annotations

import binascii
import re
import struct
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from clawback.emulator.wire import ApiError, invalid_request

__all__ = [
    "MANY_IMAGES",
    "MANY_IMAGES_MAX_SIDE",
    "MAX_IMAGE_BYTES",
    "MAX_SIDE",
    "check_media",
    "image_kind",
    "image_size",
]

MAX_IMAGE_BYTES: Final = 5 * 1024 * 1024
MAX_SIDE: Final = 8000
MANY_IMAGES: Final = 20
MANY_IMAGES_MAX_SIDE: Final = 2000
_BASE64: Final = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_SPACE: Final = re.compile(r"\s+")
_HEAD_CHARS: Final = 64  # decoded: 48 bytes, enough for every signature below
_DIMENSION_CHARS: Final = 256 * 1024  # a JPEG's frame header may follow its metadata segments


def image_kind(head: bytes) -> str | None:
    """The media type that ``head`` (an image's first bytes) starts like, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def image_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """Width and height from an image's header, or None when they are not in ``data``."""
    if kind == "image/png" and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if kind == "image/gif" and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height
    if kind == "image/webp":
        return _webp_size(data)
    if kind == "image/jpeg":
        return _jpeg_size(data)
    return None


def _decode(text: str) -> bytes:
    """Decode base64 (``text`` already checked), padding it if the padding was left off."""
    return binascii.a2b_base64(text + "=" * (-len(text) % 4))


def _base64(data: str, where: str) -> str:
    """``data`` as valid base64 without whitespace; 400 when it is not base64."""
    if _BASE64.fullmatch(data) is None:
        squeezed = _SPACE.sub("", data)
        if _BASE64.fullmatch(squeezed) is None:
            raise invalid_request(f"{where}: invalid base64 data")
        data = squeezed
    if len(data.rstrip("=")) % 4 == 1:
        raise invalid_request(f"{where}: invalid base64 data")
    return data


class _Image:
    __slots__ = ("data", "kind", "path", "strict")

    def __init__(self, path: str, data: str, kind: str, strict: bool) -> None:
        self.path, self.data, self.kind, self.strict = path, data, kind, strict


def _check_image(block: Mapping[str, Any], path: str) -> _Image | None:
    source = block["source"]
    if source["type"] != "base64":
        return None
    where = f"{path}.image.source.base64"
    data = _base64(source["data"], f"{where}.data")
    size = len(data.rstrip("=")) * 3 // 4
    if size > MAX_IMAGE_BYTES:
        raise invalid_request(f"{where}: image exceeds 5 MB maximum: {size} bytes > {MAX_IMAGE_BYTES} bytes")
    declared = source["media_type"]
    actual = image_kind(_decode(data[:_HEAD_CHARS]))
    if actual is None:
        raise invalid_request(f"{where}.data: Could not process image")
    if actual != declared:
        raise invalid_request(
            f"{where}.data: The image was specified using the {declared} media type, "
            f"but the image appears to be a {actual} image"
        )
    transformations = block.get("transformations") or {}
    return _Image(path, data, actual, transformations.get("oversized_image") == "error")


def _check_document(block: Mapping[str, Any], path: str) -> None:
    source = block["source"]
    if source["type"] != "base64":
        return
    where = f"{path}.document.source.base64.data"
    data = _base64(source["data"], where)
    if b"%PDF-" not in _decode(data[:1368]):  # the header, within the first 1,024 bytes
        raise invalid_request(f"{where}: The PDF specified was not valid.")


def _walk(content: Any, path: str) -> Iterator[tuple[Mapping[str, Any], str]]:
    """Every image and document block in ``content``, nested ones included, with its path."""
    if not isinstance(content, list):
        return
    for j, block in enumerate(content):
        kind = block.get("type")
        where = f"{path}.{j}"
        if kind in ("image", "document"):
            yield block, where
            if kind == "document" and block["source"]["type"] == "content":
                yield from _walk(block["source"]["content"], f"{where}.source.content")
        elif kind == "tool_result":
            yield from _walk(block.get("content"), f"{where}.content")


def check_media(messages: Sequence[Any]) -> None:
    """Refuse, as the API does, the first image or PDF in ``messages`` that it would not take.

    ``messages`` must already fit the request schema.
    """
    strict: list[_Image] = []
    count = 0
    for i, message in enumerate(messages):
        for block, path in _walk(message["content"], f"messages.{i}.content"):
            if block["type"] == "document":
                _check_document(block, path)
                continue
            count += 1
            image = _check_image(block, path)
            if image is not None and image.strict:
                strict.append(image)
    if not strict:
        return
    limit = MANY_IMAGES_MAX_SIDE if count > MANY_IMAGES else MAX_SIDE
    over: list[str] = []
    for image in strict:
        head = _decode(image.data[:_DIMENSION_CHARS])
        size = image_size(head, image.kind)
        if size is not None and max(size) > limit:
            over.append(image.path)
    if over:
        raise ApiError(
            400,
            f"{over[0]}: the image's longest side exceeds {limit} pixels, the maximum for this request "
            '(transformations.oversized_image is "error")',
            details={
                "error_code": "image_dimensions_too_large",
                "max_side_length_pixels": limit,
                "paths": over,
            },
        )
