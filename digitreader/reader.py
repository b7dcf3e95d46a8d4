"""The library API: ``DigitReader(model).read(image) -> Result``, chaining the stages."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .classify import Classifier, load_classifier
from .errors import DigitReaderError
from .imageio import DEFAULT_MAX_PIXELS, decode_image_file, to_uint8_image
from .normalise import crops_for_boxes
from .paths import default_model_path
from .result import Digit, Result
from .segment import Segmentation, close_pairs, merge_pair, segment, union_box

IMAGES_PER_BATCH = 32
MERGE_CONFIDENCE_SLACK = 0.1


@dataclass
class ReadItem:
    """One input of :meth:`DigitReader.read_paths`: its result, decoded image and error (if any)."""

    path: str
    result: Result
    image: np.ndarray | None
    exception: DigitReaderError | None = None


class DigitReader:
    """Reads the digits in images with one loaded classifier.

    ``model`` is a path to a ``.keras`` file (default: the shipped CNN) or any object with
    ``predict_proba(crops) -> probabilities`` and a ``name`` (see :class:`~digitreader.classify.Classifier`).
    """

    def __init__(self, model: str | Path | Classifier | None = None, *, polarity: str = "auto",
                 min_confidence: float = 0.0, cache_dir: str | Path | None = None,
                 max_pixels: int = DEFAULT_MAX_PIXELS, backend: str | None = None,
                 quick_start: bool = False) -> None:
        if model is None or isinstance(model, (str, Path)):
            self.classifier: Classifier = load_classifier(model or default_model_path(), cache_dir=cache_dir,
                                                          backend=backend, quick_start=quick_start)
        else:
            self.classifier = model
        if polarity not in ("auto", "dark", "light"):
            raise ValueError("polarity must be 'auto', 'dark' or 'light'")
        self.polarity = polarity
        self.min_confidence = float(min_confidence)
        self.max_pixels = int(max_pixels)  # images declaring more are refused before decoding

    def read(self, image: np.ndarray | str | Path, path: str | None = None) -> Result:
        """Read one image (an array, or a path to decode). Raises DigitReaderError for bad files."""
        if isinstance(image, (str, Path)):
            path = path or str(image)
            image = decode_image_file(image, self.max_pixels)
        return self.read_many([to_uint8_image(image)], [path or "<array>"])[0]

    def read_many(self, images: list[np.ndarray], paths: list[str] | None = None) -> list[Result]:
        """Read several decoded images with one batched classifier call for all their digits."""
        paths = paths or [f"<array {i}>" for i in range(len(images))]
        segmentations = [segment(image, self.polarity) for image in images]
        probabilities = self._classify_all(segmentations)
        probabilities = self._merge_broken_digits(segmentations, probabilities)
        return [self._result(path, seg, probs, image.shape)
                for image, path, seg, probs in zip(images, paths, segmentations, probabilities)]

    def _classify(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        """One batched classifier call for several images' crops; per-image probabilities back."""
        counts = [len(c) for c in crops]
        if not sum(counts):
            return [np.zeros((0, 10), np.float32) for _ in crops]
        probabilities = self.classifier.predict_proba(np.concatenate(crops))
        return np.split(probabilities, np.cumsum(counts)[:-1])

    def _classify_all(self, segmentations: list[Segmentation]) -> list[np.ndarray]:
        return self._classify([crops_for_boxes(s.ink, s.labels, s.boxes, s.members) for s in segmentations])

    def _merge_broken_digits(self, segmentations: list[Segmentation],
                             probabilities: list[np.ndarray]) -> list[np.ndarray]:
        """Recognition-guided merging: two close pieces become one digit when the merged crop is read
        about as confidently as the pieces were (a broken 0 or 4 merges; '11' written close stays)."""
        candidates = [close_pairs(seg) for seg in segmentations]
        if not any(candidates):
            return probabilities
        merged_crops = [crops_for_boxes(seg.ink, seg.labels, [union_box(seg.boxes[a], seg.boxes[b]) for a, b in pairs],
                                        [seg.members[a] + seg.members[b] for a, b in pairs])
                        for seg, pairs in zip(segmentations, candidates)]
        merged_probs = self._classify(merged_crops)
        out = []
        for seg, probs, pairs, merged in zip(segmentations, probabilities, candidates, merged_probs):
            probs = list(probs)
            for (a, b), p in sorted(zip(pairs, merged), key=lambda t: -t[0][0]):  # right to left keeps indices
                if p.max() >= min(probs[a].max(), probs[b].max()) - MERGE_CONFIDENCE_SLACK:
                    merge_pair(seg, a, b)
                    probs[a] = p
                    del probs[b]
            out.append(np.array(probs).reshape(-1, 10))
        return out

    def read_paths(self, paths: Iterable[str]) -> Iterator[ReadItem]:
        """Decode and read files in batches; a bad file yields an item with its error, never stops the run."""
        pending: list[tuple[str, np.ndarray]] = []
        for path in paths:
            try:
                pending.append((path, decode_image_file(path, self.max_pixels)))
            except DigitReaderError as exc:
                yield from self._flush(pending)
                pending = []
                yield ReadItem(path, Result(path, model=self.classifier.name, error=str(exc),
                                            min_confidence=self.min_confidence), None, exc)
                continue
            if len(pending) >= IMAGES_PER_BATCH:
                yield from self._flush(pending)
                pending = []
        yield from self._flush(pending)

    def _flush(self, pending: list[tuple[str, np.ndarray]]) -> Iterator[ReadItem]:
        if not pending:
            return
        results = self.read_many([image for _, image in pending], [path for path, _ in pending])
        for (path, image), result in zip(pending, results):
            yield ReadItem(path, result, image)

    def _result(self, path: str, seg: Segmentation, probabilities: np.ndarray, shape: tuple) -> Result:
        """Digits in reading order with their most likely value and its probability."""
        digits = tuple(
            Digit(value=int(p.argmax()), confidence=float(p.max()), box=box, line=line)
            for box, line, p in zip(seg.boxes, seg.lines, probabilities)
        )
        return Result(path=path, digits=digits, model=self.classifier.name, min_confidence=self.min_confidence,
                      image_size=(int(shape[1]), int(shape[0])))
