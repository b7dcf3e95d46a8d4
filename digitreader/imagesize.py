"""Declared image sizes read from file headers, without decoding any pixels.

Used to refuse decompression bombs (a small file that declares a huge image) before the decoder
allocates memory for them. Covers every format OpenCV decodes here: PNG, JPEG, GIF, BMP, TIFF
(every page), WebP, PNM/PAM/PFM, Sun raster, Radiance HDR, JPEG 2000 and AVIF. Each parser reads
only the header bytes it needs and returns ``None`` when the header is missing or malformed (the
decoder then rejects the file, and the decoded shape is checked again afterwards).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable

Size = tuple[int, int]  # (width, height)
DEFAULT_MAX_PIXELS = 100_000_000  # 100 megapixels (a 600 dpi A3 scan is 70 MP); --max-pixels changes it
MAX_TIFF_PAGES = 10_000  # pages walked before giving up (each page's size is checked)
MAX_GIF_BLOCKS = 100_000


def declared_sizes(data: bytes) -> list[Size] | None:
    """Every image (page or frame) size the header declares, first page first; None if unknown."""
    parser = next((p for magic, p in _PARSERS if data.startswith(magic)), None)
    if parser is None and data[4:8] == b"ftyp":  # ISO media: AVIF/HEIF
        parser = _isobmff
    if parser is None:
        return None
    try:
        sizes = parser(data)
    except (struct.error, IndexError, ValueError):
        return None
    return sizes or None


def structure_problem(data: bytes) -> str | None:
    """Why a file cannot be a sound image, from its structure alone, or None.

    A PNG chunk whose declared length runs past the end of the file is refused here: OpenCV's PNG
    reader allocates the declared length (up to 4 GiB) before noticing the data is not there, so a
    542-byte file would cost 4 GB of memory.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        at = 8
        while at + 8 <= len(data):
            length = struct.unpack(">I", data[at:at + 4])[0]
            if length > len(data) - at - 12:
                return f"a PNG chunk at byte {at} declares {length} bytes, past the end of the file"
            if data[at + 4:at + 8] == b"IEND":
                return None
            at += 12 + length
    return None


def _png(data: bytes) -> list[Size] | None:
    if data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return [(width, height)]


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(data: bytes) -> list[Size] | None:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            return None
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return [(width, height)] if height else None  # height 0: defined later (DNL), unknown now
        i += 2 + length
    return None


def _gif(data: bytes) -> list[Size]:
    width, height, flags = struct.unpack("<HHB", data[6:11])
    sizes = [(width, height)]
    i = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    for _ in range(MAX_GIF_BLOCKS):
        if i >= len(data) or data[i] == 0x3B:  # trailer
            break
        if data[i] == 0x21:  # extension: label, then sub-blocks
            i = _skip_sub_blocks(data, i + 2)
        elif data[i] == 0x2C:  # image descriptor: a frame placed on the screen
            left, top, w, h, local = struct.unpack("<HHHHB", data[i + 1:i + 10])
            sizes.append((max(width, left + w), max(height, top + h)))
            i += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
            i = _skip_sub_blocks(data, i + 1)  # after the LZW minimum code size byte
        else:
            break
    return sizes


def _skip_sub_blocks(data: bytes, i: int) -> int:
    while i < len(data) and data[i]:
        i += data[i] + 1
    return i + 1


def _bmp(data: bytes) -> list[Size]:
    header = struct.unpack("<I", data[14:18])[0]
    if header == 12:  # OS/2 BITMAPCOREHEADER
        return [struct.unpack("<HH", data[18:22])]
    width, height = struct.unpack("<ii", data[18:26])
    return [(abs(width), abs(height))]


def _tiff(data: bytes) -> list[Size]:
    order = "<" if data[:2] == b"II" else ">"
    version = struct.unpack(order + "H", data[2:4])[0]
    big = version == 43  # BigTIFF: 8-byte offsets and counts
    offset = struct.unpack(order + ("Q" if big else "I"), data[8:16] if big else data[4:8])[0]
    count_fmt, entry_size, next_fmt = ("Q", 20, "Q") if big else ("H", 12, "I")
    sizes, seen = [], set()
    while offset and offset not in seen and len(sizes) < MAX_TIFF_PAGES:
        seen.add(offset)
        count_size = struct.calcsize(count_fmt)
        (count,) = struct.unpack(order + count_fmt, data[offset:offset + count_size])
        tags: dict[int, int] = {}
        for n in range(min(count, 4096)):
            entry = offset + count_size + n * entry_size
            tag, kind = struct.unpack(order + "HH", data[entry:entry + 4])
            if tag in (256, 257):
                value = data[entry + (12 if big else 8):entry + entry_size]
                fmt = {3: "H", 4: "I", 16: "Q"}.get(kind)
                if fmt is None:
                    raise ValueError("bad TIFF size tag type")
                tags[tag] = struct.unpack(order + fmt, value[:struct.calcsize(fmt)])[0]
        if 256 not in tags or 257 not in tags:
            raise ValueError("TIFF page without a size")
        sizes.append((tags[256], tags[257]))
        next_at = offset + count_size + count * entry_size
        offset = struct.unpack(order + next_fmt, data[next_at:next_at + struct.calcsize(next_fmt)])[0]
    return sizes


def _webp(data: bytes) -> list[Size] | None:
    if data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return [(width & 0x3FFF, height & 0x3FFF)]
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = struct.unpack("<I", data[21:25])[0]
        return [((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)]
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return [(width, height)]
    return None


_TOKEN = re.compile(rb"(?:\s|#[^\n]*\n?)*(\S+)")


def _pnm(data: bytes) -> list[Size] | None:
    """P1-P6 and PFM (PF/Pf): magic, then width and height as text, comments allowed."""
    head = data[:4096]
    pos = 2
    numbers = []
    for _ in range(2):
        match = _TOKEN.match(head, pos)
        if not match:
            return None
        numbers.append(int(match.group(1)))
        pos = match.end()
    return [(numbers[0], numbers[1])]


def _pam(data: bytes) -> list[Size] | None:
    head = data[:4096]
    width = re.search(rb"\bWIDTH\s+(\d+)", head)
    height = re.search(rb"\bHEIGHT\s+(\d+)", head)
    return [(int(width.group(1)), int(height.group(1)))] if width and height else None


def _sun_raster(data: bytes) -> list[Size]:
    return [struct.unpack(">II", data[4:12])]


def _radiance(data: bytes) -> list[Size] | None:
    match = re.search(rb"\n\n([-+])([XY]) (\d+) ([-+])([XY]) (\d+)", data[:65536])
    if not match:
        return None
    first, second = int(match.group(3)), int(match.group(6))
    return [(second, first) if match.group(2) == b"Y" else (first, second)]


def _j2k(data: bytes) -> list[Size]:
    """JPEG 2000 codestream: the SIZ marker follows the SOC marker."""
    xsiz, ysiz, xo, yo = struct.unpack(">IIII", data[8:24])
    return [(xsiz - xo, ysiz - yo)]


def _jp2(data: bytes) -> list[Size] | None:
    at = data.find(b"ihdr", 0, 65536)
    if at < 0:
        return None
    height, width = struct.unpack(">II", data[at + 4:at + 12])
    return [(width, height)]


def _isobmff(data: bytes) -> list[Size] | None:
    """AVIF/HEIF: every 'ispe' (image spatial extents) property in the header boxes."""
    head = data[:1 << 20]
    sizes = []
    at = head.find(b"ispe")
    while at >= 0 and len(sizes) < 1000:
        width, height = struct.unpack(">II", head[at + 8:at + 16])
        sizes.append((width, height))
        at = head.find(b"ispe", at + 4)
    return sizes or None


_PARSERS: list[tuple[bytes, Callable[[bytes], list[Size] | None]]] = [
    (b"\x89PNG\r\n\x1a\n", _png),
    (b"\xff\xd8", _jpeg),
    (b"GIF87a", _gif),
    (b"GIF89a", _gif),
    (b"BM", _bmp),
    (b"II*\x00", _tiff),
    (b"MM\x00*", _tiff),
    (b"II+\x00", _tiff),
    (b"MM\x00+", _tiff),
    (b"RIFF", _webp),
    *[(b"P%d" % n, _pnm) for n in range(1, 7)],
    (b"PF", _pnm),
    (b"Pf", _pnm),
    (b"P7", _pam),
    (b"\x59\xa6\x6a\x95", _sun_raster),
    (b"#?RADIANCE", _radiance),
    (b"#?RGBE", _radiance),
    (b"\xff\x4f\xff\x51", _j2k),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", _jp2),
]
