"""Images and PDFs: what the API takes is served (through the official SDK), what it refuses is refused.

The images are built here, byte by byte, in each format's real layout (PNG, JPEG, GIF, WebP), so the
checks read the same headers a real image has.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest

from clawback.emulator.media import image_kind, image_size
from clawback.emulator.testing import TEST_KEY, EmulatorSession, emulator_client

from .helpers import assert_error, assert_refused_and_not_billed, body, user

HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": TEST_KEY}


def png(width: int = 1, height: int = 1) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + b"\x00" * width) if width * height == 1 else zlib.compress(b"")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def jpeg(width: int = 1, height: int = 1) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    exif = b"\xff\xe1" + struct.pack(">H", 2 + 300) + b"Exif\x00\x00" + b"\x00" * 294  # metadata first
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + exif + sof + b"\xff\xd9"


def gif(width: int = 1, height: int = 1) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00;"


def webp(width: int = 1, height: int = 1) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    payload = b"VP8L" + struct.pack("<I", 5) + b"\x2f" + struct.pack("<I", bits)
    return b"RIFF" + struct.pack("<I", 4 + len(payload)) + b"WEBP" + payload


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def image(data: bytes | str, media_type: str = "image/png", **extra: Any) -> dict[str, Any]:
    encoded = data if isinstance(data, str) else b64(data)
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": encoded}, **extra}


def pdf(data: bytes | str) -> dict[str, Any]:
    encoded = data if isinstance(data, str) else b64(data)
    return {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": encoded},
    }


def ask(*blocks: dict[str, Any]) -> dict[str, Any]:
    return body(messages=[user([*blocks, {"type": "text", "text": "What is this?"}])])


@pytest.mark.parametrize(
    ("make", "kind"), [(png, "image/png"), (jpeg, "image/jpeg"), (gif, "image/gif"), (webp, "image/webp")]
)
def test_formats_and_sizes_are_read_from_the_headers(make: Any, kind: str) -> None:
    data = make(3000, 200)
    assert image_kind(data[:48]) == kind
    assert image_size(data, kind) == (3000, 200)


TOOL_CALL = {"type": "tool_use", "id": "toolu_shot", "name": "screenshot", "input": {}}
VALID = {
    "png": ask(image(png())),
    "jpeg": ask(image(jpeg(), "image/jpeg")),
    "gif": ask(image(gif(), "image/gif")),
    "webp": ask(image(webp(), "image/webp")),
    "base64 wrapped in lines and without padding": ask(image(b64(png() + b"x").rstrip("=")[:40] + "\n" + b64(png() + b"x").rstrip("=")[40:])),
    "an image by url": ask({"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}),
    "an image by file id": ask({"type": "image", "source": {"type": "file", "file_id": "file_011CNha8iCJcU1wXNR6q4V8w"}}),
    "a PDF": ask(pdf(PDF)),
    "a PDF by url": ask({"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}}),
    "a text document": ask({"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Hello"}}),
    "a content document holding an image": ask(
        {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "see:"}, image(gif(), "image/gif")]}}
    ),
    "an image in a tool result": body(
        messages=[
            user("Take a screenshot"),
            {"role": "assistant", "content": [TOOL_CALL]},
            user([{"type": "tool_result", "tool_use_id": "toolu_shot", "content": [image(png())]}]),
        ]
    ),
    "a huge image scaled down by default": ask(image(png(9000, 9000))),
    "an image within the limit, errors on": ask(image(png(8000, 10), transformations={"oversized_image": "error"})),
}  # fmt: skip


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorSession]:
    with emulator_client() as session:
        yield session


@pytest.mark.parametrize("params", VALID.values(), ids=list(VALID))
def test_media_the_api_takes_is_served(emu: EmulatorSession, params: dict[str, Any]) -> None:
    assert emu.client.messages.create(**params).stop_reason == "end_turn"
    counted = {k: v for k, v in params.items() if k != "max_tokens"}
    assert emu.client.messages.count_tokens(**counted).input_tokens > 0


P = "messages.0.content.0"
INVALID = {
    "a data URI instead of base64": (
        ask(image("data:image/png;base64," + b64(png()))),
        f"{P}.image.source.base64.data: invalid base64 data",
    ),
    "base64 of impossible length": (ask(image(b64(png()) + "A")), f"{P}.image.source.base64.data: invalid base64 data"),
    "a PNG sent as JPEG": (
        ask(image(png(), "image/jpeg")),
        f"{P}.image.source.base64.data: The image was specified using the image/jpeg media type, "
        "but the image appears to be a image/png image",
    ),
    "a WebP sent as GIF": (
        ask(image(webp(), "image/gif")),
        "specified using the image/gif media type, but the image appears to be a image/webp image",
    ),
    "bytes that are no image": (ask(image(b"hello, world")), f"{P}.image.source.base64.data: Could not process image"),
    "an empty image": (ask(image("")), f"{P}.image.source.base64.data: Could not process image"),
    "an image over 5 MB": (
        ask(image(png() + b"\x00" * (5 * 1024 * 1024))),
        f"{P}.image.source.base64: image exceeds 5 MB maximum: ",
    ),
    "a PDF that is not one": (ask(pdf(b"hello")), f"{P}.document.source.base64.data: The PDF specified was not valid."),
    "a PDF that is not base64": (ask(pdf("%PDF-1.4")), f"{P}.document.source.base64.data: invalid base64 data"),
    "a bad image in a tool result": (
        body(
            messages=[
                user("Take a screenshot"),
                {"role": "assistant", "content": [TOOL_CALL]},
                user([{"type": "tool_result", "tool_use_id": "toolu_shot", "content": [image(jpeg())]}]),
            ]
        ),
        "messages.2.content.0.content.0.image.source.base64.data: The image was specified using the image/png",
    ),
    "a bad image inside a content document": (
        ask({"type": "document", "source": {"type": "content", "content": [image(b"nope", "image/gif")]}}),
        f"{P}.source.content.0.image.source.base64.data: Could not process image",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("params", "message"), INVALID.values(), ids=list(INVALID))
def test_media_the_api_refuses_is_refused(emu: EmulatorSession, params: dict[str, Any], message: str) -> None:
    assert_refused_and_not_billed(emu, params, message)


def test_oversized_images_are_refused_with_details_when_asked() -> None:
    strict = {"oversized_image": "error"}
    big = ask(
        image(png(10, 9000), transformations=strict),
        image(jpeg(8001, 5), "image/jpeg", transformations=strict),
    )
    many = ask(
        *[image(gif(2001, 10), "image/gif") for _ in range(20)],
        image(gif(2001, 10), "image/gif", transformations=strict),
    )
    with emulator_client() as emu, httpx2.Client(base_url=emu.base_url) as http:
        answer = http.post("/v1/messages", content=json.dumps(big), headers=HEADERS)
        assert_error(
            answer, 400, "invalid_request_error", f"{P}: the image's longest side exceeds 8000 pixels"
        )
        assert answer.json()["error"]["details"] == {
            "error_code": "image_dimensions_too_large",
            "max_side_length_pixels": 8000,
            "paths": [P, "messages.0.content.1"],
        }
        answer = http.post("/v1/messages", content=json.dumps(many), headers=HEADERS)  # 21 images: 2,000
        details = answer.json()["error"]["details"]
        assert answer.status_code == 400 and details["max_side_length_pixels"] == 2000
        assert details["paths"] == ["messages.0.content.20"]
        fewer = ask(
            *[image(gif(2001, 10), "image/gif") for _ in range(19)],
            image(gif(2001, 10), "image/gif", transformations=strict),
        )
        assert emu.client.messages.create(**fewer).stop_reason == "end_turn"
        with pytest.raises(anthropic.BadRequestError) as caught:
            emu.client.messages.create(**big)
        assert caught.value.body["error"]["details"]["error_code"] == "image_dimensions_too_large"  # type: ignore[index]
