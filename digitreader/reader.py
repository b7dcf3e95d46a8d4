"""The library API: ``DigitReader(model).read(image) -> Result``, chaining the stages."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import repairs
from .architectures import PAIR_OTHER
from .classify import Classifier, in_onnx_cache, load_classifier, load_pair_reader, load_run_reader, load_verifier
from .errors import DigitReaderError
from .imageio import DEFAULT_MAX_PIXELS, decode_image_file, to_uint8_image
from .marks import place_marks
from .normalise import own_ink_windows
from .page import sheet_on_paper
from .paths import PAIR_MODEL_NAME, RUN_MODEL_NAME, VERIFIER_MODEL_NAME, default_model_path
from .result import CHARSETS, Digit, Mark, Result
from .runs import MAX_RUN, RUN_STEPS, best_path, normalise_run, run_cuts
from .segment import Segmentation, reference_height, segment, segment_at_working_scale
from .split import MAX_DIGITS, WIDEST_DIGIT, sharpest_reading
from .splitplan import SPLIT_MIN_WIDTH, boxes_by_width, cut_box, split_plans

IMAGES_PER_BATCH = 32
# A box the classifier is sure of (see SPLIT_KEEP_*) still gets candidate cuts when the verifier gives it less
# than this probability of being one whole digit (0.5 cut wide single 0s and 2s on noisy pages: -4 pages).
VERIFIER_DOUBT = 0.02
# Two neighbouring pieces cut from one box are read again together by the pair reader; where it is this sure
# of the pair, its reading replaces the pieces' own (touching 54.7 -> 64.0 %, amounts 65.3 -> 71.3 % on the
# benchmark; 0.7 reads one page more, multiplying the two readings instead reads fewer: benchmarks/RESULTS.md).
PAIR_CONFIDENCE = 0.9
# A box both helpers call two digits (the verifier gives it under PAIR_DOUBT_SINGLE of being one, the pair reader
# reads a pair with PAIR_DOUBT_CONFIDENCE) gets candidate cuts even when it is narrow (down to NARROW_MIN_WIDTH
# row heights: a 1 glued to its neighbour) or read with confidence: touching 64.0 -> 67.3 % (seed-1 pages 58.0 ->
# 61.3 %); with 0.5 instead of 0.3 for the verifier a 7 on a noisy page was cut into 1 7 (benchmarks/RESULTS.md).
NARROW_MIN_WIDTH = 0.3
PAIR_DOUBT_SINGLE, PAIR_DOUBT_CONFIDENCE = 0.3, 0.99
# Such a box at least SPLIT_MIN_WIDTH wide is cut in two even when it reads best whole (its two best pieces are then
# read together by the pair reader): touching 68.0 -> 69.3 %; seed-1 pages: touching and amounts +1 page each,
# noisy -1 (a wide 5 with a long bar, which the pair reader reads 55 at 0.991); benchmarks/RESULTS.md.
# A box no wider than any digit (WIDEST_DIGIT) that the verifier accepts (>= WHOLE_TRUST_SINGLE) and the pair reader
# does not read as a sure pair stays whole untried: wide single digits (a 0, 2 or 9 written 1.2-1.4 times as wide as
# tall) were cut in two (noisy 96.0 -> 96.7 %, rows 94.7 -> 95.3 %, form 87.3 -> 88.0 %; seed-1 pages: clean and rows
# +1 page each; no page lost on either set: benchmarks/RESULTS.md).
WHOLE_TRUST_SINGLE = VERIFIER_DOUBT  # the verifier does not doubt it
# A box the pair reader reads as one pair this surely is cut into two pieces at most. The pair reader knows "not two
# digits" (one digit, three or four: its classes from PAIR_OTHER on), so a run of three touching digits is not capped
# (with the old pair reader, which knew pairs only, three touching 0s read 00). Touching 70.7 -> 71.3 %, form 91.3 ->
# 92.0 %, amounts 72.0 -> 75.3 %; the other categories unchanged (benchmarks/RESULTS.md, "Sixth pass").
# Such a box is also doubted (gets candidate cuts) whatever its width and the verifier's view: a 1 glued to a 9
# read 9 at 0.994, the verifier giving it 0.31 of being one digit (touching +1 page, the rest unchanged: RESULTS,
# "Thirteenth pass").
PAIR_CAP_CONFIDENCE = 0.999
PAIR_UNITS = True  # pieces may count as two digits read together in the lattice (splitplan.PAIR_UNIT_COST)
# The run reader reads every box that got candidate cuts whole (a CRNN: no cuts); where it reads the box otherwise
# than the cuts chosen did, its best path at least this probable replaces their reading (benchmarks/RESULTS.md,
# "Twenty-third pass").
RUN_CONFIDENCE = 0.9
RUN_MIN_PIECE = 0.2  # ... and where it cuts the box again, no piece may be narrower than this x the row's digit height


@dataclass
class ReadItem:
    """One input of :meth:`DigitReader.read_paths`: its result, decoded image and error (if any)."""

    path: str
    result: Result
    image: np.ndarray | None
    exception: DigitReaderError | None = None


@dataclass
class _Judgement:
    """The helpers' view of one image's boxes that may hold several digits (see ``DigitReader._judge_boxes``)."""

    single: dict[int, float] = field(default_factory=dict)  # the verifier's P(one whole digit), by box index
    doubted: set[int] = field(default_factory=set)  # boxes that get candidate cuts whatever their width or reading
    trusted: set[int] = field(default_factory=set)  # boxes that stay whole, no cuts tried
    paired: set[int] = field(default_factory=set)  # wide boxes both helpers call two digits: cut in two at least
    capped: set[int] = field(default_factory=set)  # boxes the pair reader is sure hold two digits: two pieces at most
    pair: dict[int, np.ndarray] = field(default_factory=dict)  # the pair reader's probabilities, by box index


class DigitReader:
    """Reads the digits in images with one loaded classifier.

    ``model`` is a path to a ``.keras`` file (default: the shipped CNN) or any object with
    ``predict_proba(crops) -> probabilities`` and a ``name`` (see :class:`~digitreader.classify.Classifier`).
    ``verifier``: the single-digit verifier that helps choose where to cut touching digits: ``"auto"`` (the
    shipped one when installed), a path, a loaded model (2 probabilities: not one digit, one digit), or None
    (also ``"none"``, as the command line gives it). ``pair_reader``: the model that reads two touching or
    overlapping digits together (103 probabilities: ``10 x left + right``, then one, three and four digits), given the
    same ways. ``run_reader``: the model that reads a box of 1 to 4 touching digits whole (a CRNN: per output column,
    the blank and the 10 digits), given the same ways; ``"auto"`` loads the shipped one when first needed.
    """

    def __init__(self, model: str | Path | Classifier | None = None, *, polarity: str = "auto",
                 min_confidence: float = 0.0, cache_dir: str | Path | None = None,
                 max_pixels: int = DEFAULT_MAX_PIXELS, backend: str | None = None,
                 quick_start: bool = False, charset: str = "digits", debug_dir: str | Path | None = None,
                 threads: int | None = None, verifier: str | Path | Classifier | None = "auto",
                 pair_reader: str | Path | Classifier | None = "auto",
                 run_reader: str | Path | Classifier | None = "auto") -> None:
        if model is None or isinstance(model, (str, Path)):
            self.classifier: Classifier = load_classifier(model or default_model_path(), cache_dir=cache_dir,
                                                          backend=backend, quick_start=quick_start)
        else:
            self.classifier = model
        helper_options = {"cache_dir": cache_dir, "backend": backend, "quick_start": quick_start}
        self.verifier = _helper_model(verifier, VERIFIER_MODEL_NAME, load_verifier, helper_options)
        self.pair_reader = _helper_model(pair_reader, PAIR_MODEL_NAME, load_pair_reader, helper_options)
        # The run reader is needed only where a box gets candidate cuts, and it runs on onnxruntime (OpenCV's DNN
        # cannot parse its GRU; the import costs 35 MB and 50 ms): the shipped one ("auto") is loaded at the first such
        # box, so a page of well-separated digits never loads it. Unless it is in the ONNX cache already: then it is
        # exported now, with TensorFlow, beside the other models on a first run, not in the middle of a batch.
        # One given by path is loaded now, so a bad file fails early.
        self._helper_options = helper_options
        self._run_reader_pending = run_reader == "auto" and in_onnx_cache(default_model_path(RUN_MODEL_NAME),
                                                                           cache_dir, backend)
        self._run_reader = None if self._run_reader_pending else _helper_model(run_reader, RUN_MODEL_NAME,
                                                                               load_run_reader, helper_options)
        if polarity not in ("auto", "dark", "light"):
            raise ValueError("polarity must be 'auto', 'dark' or 'light'")
        self.polarity = polarity
        self.min_confidence = float(min_confidence)
        self.max_pixels = int(max_pixels)  # images declaring more are refused before decoding
        if charset not in CHARSETS:
            raise ValueError(f"charset must be one of {', '.join(CHARSETS)}")
        self.charset = charset  # "decimal": also report the separators . , - where they are written
        self.debug_dir = Path(debug_dir) if debug_dir is not None else None
        # Several images are segmented in parallel threads (OpenCV and NumPy release the GIL): 1 = serial.
        self.threads = max(1, threads if threads is not None else min(4, os.cpu_count() or 1))
        self._pool: ThreadPoolExecutor | None = None
        # Digits far from the heights the segmentation was made for are segmented on a resized copy (see
        # segment_at_working_scale); off, every image is segmented at its own size (the webcam's --scale).
        self.working_scale = True

    @property
    def run_reader(self) -> Classifier | None:
        """The run reader (see ``_reread_runs``), loaded on first use when it is the shipped one."""
        if self._run_reader_pending:
            self._run_reader = _helper_model("auto", RUN_MODEL_NAME, load_run_reader, self._helper_options)
            self._run_reader_pending = False
        return self._run_reader

    def read(self, image: np.ndarray | str | Path, path: str | None = None) -> Result:
        """Read one image (an array, or a path to decode). Raises DigitReaderError for bad files."""
        if isinstance(image, (str, Path)):
            path = path or str(image)
            image = decode_image_file(image, self.max_pixels)
        return self.read_many([to_uint8_image(image)], [path or "<array>"])[0]

    def read_many(self, images: list[np.ndarray], paths: list[str] | None = None) -> list[Result]:
        """Read several decoded images with one batched classifier call for all their digits."""
        paths = paths or [f"<array {i}>" for i in range(len(images))]
        segmentations = self._map(self._segment, images)
        segmented = [list(seg.boxes) for seg in segmentations]
        probabilities = self._classify_all(segmentations)
        for repair in (repairs.merge_broken_digits, repairs.attach_line_fragments, repairs.attach_broken_pieces):
            probabilities = repair(self._classify, segmentations, probabilities)
        probabilities = repairs.restore_strokes_along_lines(self._classify, segmentations, probabilities,
                                                            self._verify if self.verifier is not None else None)
        probabilities = self._split_touching_digits(segmentations, probabilities)
        probabilities = [repairs.set_aside_hanging_marks(seg, probs)
                         for seg, probs in zip(segmentations, probabilities)]
        if self.debug_dir is not None:
            self._write_debug(images, paths, segmentations, segmented, probabilities)
        return [self._result(path, seg, probs, image.shape)
                for image, path, seg, probs in zip(images, paths, segmentations, probabilities)]

    def _segment(self, image: np.ndarray) -> Segmentation:
        """The sheet's surround blanked (``page.py``), then segmented: levelled by the sheet's tilt and at the
        working scale, or (``working_scale`` off: the webcam's ``--scale``) as it is."""
        paper, tilt = sheet_on_paper(image)
        if self.working_scale:
            return segment_at_working_scale(paper, self.polarity, sheet_tilt=tilt)
        return segment(paper, self.polarity)

    def _write_debug(self, images: list[np.ndarray], paths: list[str], segmentations: list[Segmentation],
                     segmented: list[list], probabilities: list[np.ndarray]) -> None:
        """``debug_dir``: binarised image, boxes before and after merge/split, every final 28x28 crop."""
        import cv2

        from .debug import debug_stem, write_debug

        for image, path, seg, before, probs in zip(images, paths, segmentations, segmented, probabilities):
            self._debug_count = getattr(self, "_debug_count", 0) + 1
            crops = seg.crops()
            if seg.to_image is not None:  # the pictures show the copy (resized, levelled) where the boxes were found
                to_copy = cv2.invertAffineTransform(seg.image_matrix())
                image = cv2.warpAffine(image, to_copy, (seg.mask.shape[1], seg.mask.shape[0]), flags=cv2.INTER_LINEAR)
            write_debug(self.debug_dir, debug_stem(path, self._debug_count), image, seg.mask, before, seg.boxes,
                        seg.lines, crops, probs)

    def _verify(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        """The verifier's P(one whole digit) for several images' crops (one batched call)."""
        return [p[:, 1] for p in self._classify(crops, self.verifier)]

    def _classify(self, crops: list[np.ndarray], model: Classifier | None = None) -> list[np.ndarray]:
        """One batched call of ``model`` (default: the classifier) for several images' crops; per-image
        probabilities back."""
        counts = [len(c) for c in crops]
        if not sum(counts):
            return [np.zeros((0, 10), np.float32) for _ in crops]
        probabilities = (model or self.classifier).predict_proba(np.concatenate(crops))
        return np.split(probabilities, np.cumsum(counts)[:-1])

    def _classify_all(self, segmentations: list[Segmentation]) -> list[np.ndarray]:
        return self._classify(self._map(lambda s: s.crops(), segmentations))

    def _map(self, function: Callable[[Any], Any], items: list) -> list:
        """``[function(item) for item in items]``, in the reader's threads when there are several items."""
        if self.threads == 1 or len(items) < 2:
            return [function(item) for item in items]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="digitreader")
        return list(self._pool.map(function, items))

    def _split_touching_digits(self, segmentations: list[Segmentation],
                               probabilities: list[np.ndarray]) -> list[np.ndarray]:
        """Recognition-guided splitting: every box at least ``SPLIT_MIN_WIDTH`` row heights wide gets
        candidate cuts; all candidate pieces of all images are classified in one batched call, and each
        box keeps the segmentation (possibly itself, whole) whose pieces are read most confidently,
        have plausible widths and shapes for the digits they are read as, need the cheapest cuts and,
        with a verifier, are most likely whole digits. With a pair reader, every two neighbouring pieces
        chosen are then read again together (``_reread_pairs``)."""
        judgements = self._judge_boxes(segmentations)
        jobs = [(seg, probs, judged.doubted, judged.trusted, judged.doubted)
                for seg, probs, judged in zip(segmentations, probabilities, judgements)]
        plans = self._map(lambda args: split_plans(*args), jobs)
        if not any(plans):
            return probabilities
        crops = [seg.crops([b for plan in seg_plans for b in plan.boxes],
                           [seg.members[plan.index] for plan in seg_plans for _ in plan.boxes],
                           [m for plan in seg_plans for m in plan.masks])
                 for seg, seg_plans in zip(segmentations, plans)]
        piece_probs = self._classify(crops)
        piece_single = ([p[:, 1] for p in self._classify(crops, self.verifier)] if self.verifier is not None
                        else [None] * len(crops))
        piece_pairs = (self._classify(crops, self.pair_reader) if self.pair_reader is not None and PAIR_UNITS
                       else [None] * len(crops))
        decisions = []  # per image: (plan, its pieces' probabilities, the chosen pieces or None)
        for probs, seg_plans, pp, singles, pairs, judged in zip(probabilities, plans, piece_probs, piece_single,
                                                                piece_pairs, judgements):
            start = np.cumsum([0] + [len(plan.boxes) for plan in seg_plans])
            decisions.append([])
            for plan, offset in zip(seg_plans, start):
                if singles is not None:
                    plan.single = singles[offset:offset + len(plan.boxes)]
                    plan.whole_single = judged.single[plan.index]
                plan.paired = plan.index in judged.paired
                plan.max_pieces = 2 if plan.index in judged.capped else MAX_DIGITS
                if pairs is not None and plan.index in judged.pair:
                    plan.pair_probs = pairs[offset:offset + len(plan.boxes)]
                    plan.whole_pair = judged.pair[plan.index]
                own = pp[offset:offset + len(plan.boxes)].copy()
                decisions[-1].append((plan, own, plan.choose(own, probs[plan.index])))
        if self.pair_reader is not None:
            self._reread_pairs(segmentations, decisions)
        if self.run_reader is not None:
            self._reread_runs(segmentations, probabilities, decisions)
        out = []
        for seg, probs, image_decisions in zip(segmentations, probabilities, decisions):
            probs = list(probs)
            for plan, own, chosen in sorted(image_decisions, key=lambda d: -d[0].index):  # right to left
                if chosen is None:
                    continue
                seg.replace(plan.index, [plan.boxes[k] for k in chosen], [plan.masks[k] for k in chosen])
                probs[plan.index:plan.index + 1] = [own[k] for k in chosen]
            out.append(np.array(probs).reshape(-1, 10))
        return out

    def _reread_pairs(self, segmentations: list[Segmentation], decisions: list[list[tuple]]) -> None:
        """Every two neighbouring pieces cut from one box are read again together by the pair reader (a model of
        two touching or overlapping digits: the 100 pairs, and "one, three or four digits"): where a cut cannot part
        overlapping digits, each piece keeps part of the other, but the two together are one readable pair. Where
        the pair reader is sure (``PAIR_CONFIDENCE``), its reading of each side replaces the pieces' own. A piece read
        so with both neighbours keeps the surer of the two readings (``sharpest_reading``), not the later one: a 9
        whose loop overlaps the 0 before it reads 7 with the 9 after it, 9 with the 0 (RESULTS, "Fourteenth pass")."""
        jobs, crops = [], []
        for seg, image_decisions in zip(segmentations, decisions):
            boxes, members, masks = [], [], []
            for plan, own, chosen in image_decisions:
                lookup = {pair: k for k, pair in enumerate(plan.pairs)}
                for left, right in zip(chosen or [], (chosen or [])[1:]):
                    span = (plan.pairs[left][0], plan.pairs[right][1])
                    if span in lookup:
                        boxes.append(plan.boxes[lookup[span]])
                        masks.append(plan.masks[lookup[span]])
                    elif span == (0, plan.n_cuts + 1):
                        boxes.append(plan.box)
                        masks.append(None)
                    else:
                        continue
                    members.append(seg.members[plan.index])
                    jobs.append((own, left, right))
            crops.append(seg.crops(boxes, members, masks))
        if not jobs:
            return
        pair_probs = _pair_part(self.pair_reader.predict_proba(np.concatenate(crops))).reshape(-1, 10, 10)
        rereadings: dict[tuple[int, int], tuple[np.ndarray, int, list[np.ndarray]]] = {}
        for (own, left, right), joint in zip(jobs, pair_probs):
            if joint.max() >= PAIR_CONFIDENCE:
                rereadings.setdefault((id(own), left), (own, left, []))[2].append(joint.sum(axis=1))
                rereadings.setdefault((id(own), right), (own, right, []))[2].append(joint.sum(axis=0))
        for own, k, readings in rereadings.values():
            own[k] = sharpest_reading(readings)

    def _reread_runs(self, segmentations: list[Segmentation], probabilities: list[np.ndarray],
                     decisions: list[list[tuple]]) -> None:
        """Every box that got candidate cuts is read whole by the run reader (``runs.py``). Where it reads the box
        otherwise than the cuts chosen did, at least ``RUN_CONFIDENCE`` probable (``runs.sequence_probability``),
        its reading replaces theirs: with the same number of digits, each piece takes the run reader's reading; else
        the box is cut again between the digits where the run reader saw them (unless a piece would be narrower
        than ``RUN_MIN_PIECE``). A box kept whole that the run reader also reads as one digit keeps the digit
        classifier's reading (on held-out MNIST the classifier reads single digits better, and the twenty-third
        pass's benchmark lost four pages, a 2 read as 7, to the run reader's)."""
        jobs, canvases = [], []
        for seg, probs, image_decisions in zip(segmentations, probabilities, decisions):
            for n, (plan, own, chosen) in enumerate(image_decisions):
                i = plan.index
                ((window, origin),) = own_ink_windows(seg.ink, seg.labels, [plan.box], [seg.members[i]],
                                                      [seg.masks[i]], faint=True, blocked=seg.near_lines)
                canvas, placement = normalise_run(window)
                if placement is None:
                    continue
                lattice = ([int(own[k].argmax()) for k in chosen] if chosen is not None else [int(probs[i].argmax())])
                jobs.append((seg, image_decisions, n, lattice, placement, origin, window.shape[1]))
                canvases.append(canvas)
        if not jobs:
            return
        columns = self.run_reader.predict_proba(np.stack(canvases)).reshape(len(canvases), RUN_STEPS, -1)
        for (seg, image_decisions, n, lattice, placement, origin, width), column_probs in zip(jobs, columns):
            reading = best_path(column_probs)
            plan, own, chosen = image_decisions[n]
            if (not reading.digits or reading.digits == lattice or reading.confidence < RUN_CONFIDENCE
                    or len(reading.digits) > MAX_RUN or (chosen is None and len(reading.digits) == 1)):
                continue  # a box kept whole and read as one digit: the digit classifier reads single digits better
            if chosen is not None and len(chosen) == len(reading.digits):
                own = own.copy()
                own[chosen] = reading.probabilities
                image_decisions[n] = (plan, own, chosen)
                continue
            cuts = [origin[0] + c - plan.box[0] for c in run_cuts(reading, placement, width)]
            pieces = cut_box(plan.box, seg.box_mask(plan.index), cuts)
            if len(pieces) != len(reading.digits) or any(box[2] < RUN_MIN_PIECE * plan.height for box, _ in pieces):
                continue
            start = len(plan.boxes)
            plan.boxes.extend(box for box, _ in pieces)
            plan.masks.extend(mask for _, mask in pieces)
            own = np.concatenate([own, reading.probabilities])
            image_decisions[n] = (plan, own, list(range(start, start + len(pieces))))

    def _judge_boxes(self, segmentations: list[Segmentation]) -> list[_Judgement]:
        """Per image, the helpers' view of each box that may hold several digits (one batched call per
        helper): the verifier's probability that it is one whole digit, and the boxes they doubt. A box is
        doubted when the verifier gives it under ``VERIFIER_DOUBT``, when the verifier gives it under
        ``PAIR_DOUBT_SINGLE`` and the pair reader reads a pair with ``PAIR_DOUBT_CONFIDENCE``, or when the pair
        reader reads a pair with ``PAIR_CAP_CONFIDENCE`` (the box is then capped: two pieces at most); with both
        helpers this includes boxes too narrow to split by their width (a ``1`` glued to its neighbour
        is narrower than ``SPLIT_MIN_WIDTH`` row heights). A doubted box always gets candidate cuts (one straight
        cut in its middle when no other is found: two 1s glued into one bar). With both
        helpers, a box is trusted whole (no cuts tried) when it is narrower than ``WIDEST_DIGIT`` row heights, the
        verifier gives it at least ``WHOLE_TRUST_SINGLE`` and the pair reader is not sure of a pair in it; and a
        box at least ``SPLIT_MIN_WIDTH`` wide that both call two digits is paired: cut in two at least."""
        if self.verifier is None:
            return [_Judgement() for _ in segmentations]
        both = self.pair_reader is not None
        wide = [boxes_by_width(seg, SPLIT_MIN_WIDTH) for seg in segmentations]
        candidates = [idx + (boxes_by_width(seg, NARROW_MIN_WIDTH, SPLIT_MIN_WIDTH) if both else [])
                      for seg, idx in zip(segmentations, wide)]
        crops = [seg.crops([seg.boxes[i] for i in idx], [seg.members[i] for i in idx], [seg.masks[i] for i in idx])
                 for seg, idx in zip(segmentations, candidates)]
        singles = [p[:, 1] for p in self._classify(crops, self.verifier)]
        pair_probs = self._classify(crops, self.pair_reader) if both else [np.zeros((len(c), 1)) for c in crops]
        pair_best = [_pair_part(p).max(axis=1) for p in pair_probs]
        sure_pair = [best >= PAIR_DOUBT_CONFIDENCE for best in pair_best]
        judgements = []
        for seg, idx, wide_idx, single, sure, best, pairs in zip(segmentations, candidates, wide, singles,
                                                                 sure_pair, pair_best, pair_probs):
            paired = {i for i, s, pair in zip(idx, single, sure) if pair and s < PAIR_DOUBT_SINGLE}
            widest = WIDEST_DIGIT * reference_height(seg.boxes) if seg.boxes else 0.0
            capped = {i for i, b in zip(idx, best) if b >= PAIR_CAP_CONFIDENCE}
            judgements.append(_Judgement(
                single={i: float(s) for i, s in zip(idx, single)},
                doubted=paired | capped | {i for i, s in zip(idx, single) if i in wide_idx and s < VERIFIER_DOUBT},
                trusted={i for i, s, pair in zip(idx, single, sure)
                         if both and s >= WHOLE_TRUST_SINGLE and not pair and seg.boxes[i][2] < widest},
                paired=paired & set(wide_idx),
                capped=capped,
                pair=dict(zip(idx, pairs)) if both else {}))
        return judgements

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
            Digit(value=int(p.argmax()), confidence=float(p.max()), box=seg.image_box(box), line=line)
            for box, line, p in zip(seg.boxes, seg.lines, probabilities)
        )
        marks: tuple[Mark, ...] = ()
        if self.charset == "decimal":
            placed = place_marks([box for box, _ in seg.marks], seg.boxes, seg.lines)
            marks = tuple(Mark(char, seg.image_box(box), line)
                          for char, box, line in sorted(placed, key=lambda m: (m[2], m[1][0])))
        return Result(path=path, digits=digits, model=self.classifier.name, min_confidence=self.min_confidence,
                      image_size=(int(shape[1]), int(shape[0])), marks=marks, charset=self.charset)


def _pair_part(probabilities: np.ndarray) -> np.ndarray:
    """The pair reader's probabilities of the 100 pairs (``10 x left + right``), without "not two digits"."""
    return probabilities[:, :PAIR_OTHER]


def _helper_model(value: str | Path | Classifier | None, shipped_name: str,
                  loader: Callable[..., Classifier], options: dict[str, Any]) -> Classifier | None:
    """A helper model given as ``"auto"`` (the shipped file ``shipped_name`` when installed), ``"none"`` or
    None, a path (loaded by ``loader``), or a loaded model."""
    if value == "auto":
        shipped = default_model_path(shipped_name)
        value = shipped if shipped.is_file() else None
    elif value == "none":
        value = None
    if isinstance(value, (str, Path)):
        return loader(value, **options)
    return value
