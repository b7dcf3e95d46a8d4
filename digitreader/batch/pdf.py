"""PDF pages as batch items, rendered with PDFium (optional extra ``digitreader[pdf]``: pypdfium2)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import numpy as np

from ..errors import DependencyError, ImageDecodeError, ImageTooLargeError

PDF_EXTENSIONS = (".pdf",)
RENDER_DPI = 200  # scans are usually 200-300 dpi; digits stay well above MNIST's 28 px


def is_pdf(path: str) -> bool:
    return path.lower().endswith(PDF_EXTENSIONS)


def _pdfium() -> Any:
    try:
        import pypdfium2
    except ImportError:
        raise DependencyError("reading PDF pages needs pypdfium2: pip install 'digitreader[pdf]'") from None
    return pypdfium2


@contextmanager
def _open_pdf(source: IO[bytes] | bytes, name: str) -> Iterator[Any]:
    """A PDFium document, closed afterwards (ImageDecodeError when it is not a PDF)."""
    pdfium = _pdfium()
    try:
        document = pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        raise ImageDecodeError(f"{name + ': ' if name else ''}not a readable PDF ({exc})") from None
    try:
        yield document
    finally:
        document.close()


def pdf_page_count(handle: IO[bytes] | bytes) -> int:
    """Pages of a PDF (DependencyError without pypdfium2, ImageDecodeError when it is not a PDF)."""
    with _open_pdf(handle, "") as document:
        return len(document)


def render_pdf_page(data: bytes, page: int, name: str, max_pixels: int, dpi: int = RENDER_DPI) -> np.ndarray:
    """Page ``page`` of a PDF as a uint8 grey image at ``dpi``; its size is checked before rendering."""
    with _open_pdf(data, name) as document:
        if not 0 <= page < len(document):
            raise ImageDecodeError(f"{name}: no page {page} (the PDF has {len(document)})")
        pdf_page = document[page]
        width, height = pdf_page.get_size()
        scale = dpi / 72.0
        pixels = int(width * scale) * int(height * scale)
        if pixels > max_pixels:
            raise ImageTooLargeError(f"{name} page {page}: {pixels} pixels at {dpi} dpi, over the limit of "
                                     f"{max_pixels} (--max-pixels)")
        image = pdf_page.render(scale=scale, grayscale=True).to_numpy()
    if image.ndim == 3:
        image = image[:, :, 0]
    return np.ascontiguousarray(image, dtype=np.uint8)
