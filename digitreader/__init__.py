"""digitreader: read multi-digit handwritten numbers from images.

>>> from digitreader import DigitReader
>>> result = DigitReader().read("samples/one_row_651778970.png")   # doctest: +SKIP
>>> result.text                                                   # doctest: +SKIP
'651778970'

Heavy modules (TensorFlow) load only when a model is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "1.0.0"
__all__ = ["DigitReader", "Result", "Digit", "__version__"]

if TYPE_CHECKING:
    from .reader import DigitReader
    from .result import Digit, Result


def __getattr__(name: str) -> Any:
    if name == "DigitReader":
        from .reader import DigitReader

        return DigitReader
    if name in {"Result", "Digit"}:
        from . import result

        return getattr(result, name)
    raise AttributeError(f"module 'digitreader' has no attribute {name!r}")
