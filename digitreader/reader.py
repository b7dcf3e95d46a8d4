"""The library API: ``DigitReader(model).read(image) -> Result``, chaining the stages."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .architectures import PAIR_FOUR, PAIR_ONE, PAIR_OTHER, PAIR_THREE
from .classify import Classifier, in_onnx_cache, load_classifier, load_pair_reader, load_run_reader, load_verifier
from .errors import DigitReaderError
from .imageio import DEFAULT_MAX_PIXELS, decode_image_file, to_uint8_image
from .linestrokes import strokes_along_lines
from .marks import broken_piece_candidates, hanging_marks, place_marks
from .normalise import own_ink_windows
from .page import sheet_on_paper
from .paths import PAIR_MODEL_NAME, RUN_MODEL_NAME, VERIFIER_MODEL_NAME, default_model_path
from .result import CHARSETS, Digit, Mark, Result
from .runs import MAX_RUN, RUN_STEPS, best_path, normalise_run, run_cuts
from .segment import (
    Box,
    Segmentation,
    close_pairs,
    merge_pair,
    reference_height,
    segment,
    segment_at_working_scale,
    stroke_width,
    union_box,
)
from .split import (
    MAX_DIGITS,
    WIDEST_DIGIT,
    aspect_prior,
    best_segmentation,
    candidate_cuts,
    confidence_score,
    cut_cost,
    digit_width,
    middle_cut,
    piece_mask,
    pieces_to_try,
    sharpest_reading,
    width_prior,
)

IMAGES_PER_BATCH = 32
RESTORE_DOUBT_RATIO = 0.5  # a digit given back its stroke along a line must be read this much less doubtfully
RESTORE_CONFIDENCE = 0.95  # ... and read at least this confidently
RESTORE_PAD = 4  # px: a digit's stroke along a line is looked for this far round its box (at least)
RESTORE_PAD_RATIO = 0.15  # ... or this share of the box's height
MERGE_CONFIDENCE_SLACK = 0.1
# A mark set aside as too short for a digit joins the digit beside it when the two read as another digit with at
# least PIECE_CONFIDENCE (a 2 whose base a faint stroke left apart read 7): seed-1 rows +2 pages, seed-3 light on
# dark +1, no page lost on five sets (benchmarks/RESULTS.md, "Fifteenth pass").
PIECE_CONFIDENCE = 0.9
# A piece of a digit cut off by a removed printed line may join a digit this close (x the row's height), the two
# together no taller than FRAGMENT_UNION_HEIGHT x the digit and no wider than FRAGMENT_UNION_ASPECT x their height.
FRAGMENT_REACH, FRAGMENT_UNION_HEIGHT, FRAGMENT_UNION_ASPECT = 0.25, 1.15, 1.3
SPLIT_MIN_WIDTH = 0.75  # a box at least this wide (x the row's digit height) may hold touching digits
SPLIT_KEEP_WIDTH, SPLIT_KEEP_CONFIDENCE = 1.2, 0.98  # ... unless the classifier is sure of it whole
CUT_COST_WEIGHT = 0.3
FRAGMENT_HEIGHT = 0.7  # a piece shorter than this x the row's digit height is not a whole digit
SPLIT_COST = 0.15  # every cut must earn its keep
# A box read whole may be this much wider (width / height) than the MNIST 95th percentile of its digit
# before its shape counts against it: 5 % of MNIST digits are, and a wide 0 read at 0.9997 was cut into
# a 6 and a 7 (noisy 95.3 -> 96.0 %, rows 94.0 -> 94.7 % on the benchmark, the rest unchanged).
WHOLE_ASPECT_SLACK = 0.1
SPLIT_PIECE_BUDGET = 400  # candidate pieces per page at most (a real page needs a few dozen)
# The single-digit verifier's log-probability that a piece is one whole digit is added to its score, floored
# at -VERIFIER_FLOOR (the verifier can be wrong, and one piece must not outweigh every other cue).
VERIFIER_WEIGHT, VERIFIER_FLOOR = 2.0, 6.0
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
# In the lattice of cuts, a piece may also count as two digits read together by the pair reader (PAIR_UNITS), scored
# by the pair reader's confidence and its belief that the piece is two digits, less PAIR_UNIT_COST (when a real cut
# reads as well, the cut wins): touching 71.3 -> 72.7 %, the rest unchanged; 0 or 1 instead of 0.5 read the same +-1.
PAIR_UNITS = True
PAIR_UNIT_COST = 0.5
# The pair reader's reading of a whole box also says how many digits it holds (one, two: the 100 pairs, three or
# four). A segmentation of k digits gains COUNT_WEIGHT x log P(k), floored at -COUNT_FLOOR: tuning pages +2 -1,
# seed-1 +1, seed-2 +2 -1 (1.0: +3 -1, +1, +3 -4; the pages lost undercount runs holding a 1: RESULTS, "Thirteenth
# pass").
COUNT_WEIGHT, COUNT_FLOOR = 0.5, 4.0
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
        probabilities = self._merge_broken_digits(segmentations, probabilities)
        probabilities = self._attach_line_fragments(segmentations, probabilities)
        probabilities = self._attach_broken_pieces(segmentations, probabilities)
        probabilities = self._restore_strokes_along_lines(segmentations, probabilities)
        probabilities = self._split_touching_digits(segmentations, probabilities)
        probabilities = [_set_aside_hanging_marks(seg, probs) for seg, probs in zip(segmentations, probabilities)]
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
        plans = self._map(lambda args: _split_plans(*args), jobs)
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
            pieces = _cut_box(plan.box, seg.box_mask(plan.index), cuts)
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
        wide = [_boxes_by_width(seg, SPLIT_MIN_WIDTH) for seg in segmentations]
        candidates = [idx + (_boxes_by_width(seg, NARROW_MIN_WIDTH, SPLIT_MIN_WIDTH) if both else [])
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

    def _merge_broken_digits(self, segmentations: list[Segmentation],
                             probabilities: list[np.ndarray]) -> list[np.ndarray]:
        """Recognition-guided merging: two close pieces become one digit when the merged crop is read
        about as confidently as the pieces were (a broken 0 or 4 merges; '11' written close stays)."""
        candidates = [close_pairs(seg) for seg in segmentations]
        if not any(candidates):
            return probabilities
        merged_probs = self._read_together(segmentations, candidates,
                                           lambda seg, ab: [(seg.boxes[i], seg.members[i]) for i in ab])
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

    def _read_together(self, segmentations: list[Segmentation], candidates: list[list[tuple[int, int]]],
                       parts: Callable[[Segmentation, tuple[int, int]], list[tuple[Box, list[int]]]],
                       ) -> list[np.ndarray]:
        """Per image, the classifier's probabilities for each candidate read as one crop: the union of the two
        (box, component labels) that ``parts(seg, candidate)`` gives (one batched call for all images)."""
        crops = []
        for seg, pairs in zip(segmentations, candidates):
            joined = [parts(seg, pair) for pair in pairs]
            crops.append(seg.crops([union_box(a[0], b[0]) for a, b in joined], [a[1] + b[1] for a, b in joined]))
        return self._classify(crops)

    def _attach_line_fragments(self, segmentations: list[Segmentation],
                               probabilities: list[np.ndarray]) -> list[np.ndarray]:
        """Recognition-guided repair along printed lines: a piece of ink that removing a line cut off a digit (a 6's
        loop written on a ruled line) joins the neighbouring digit whose crop with it is read about as confidently
        as, or more than, the digit alone (see :func:`_fragment_candidates`); the most confident such reading wins."""
        candidates = [_fragment_candidates(seg) for seg in segmentations]
        if not any(candidates):
            return probabilities
        merged_probs = self._read_together(segmentations, candidates, lambda seg, fk: [
            (seg.boxes[fk[1]], seg.members[fk[1]]), seg.line_fragments[fk[0]]])
        out = []
        for seg, probs, pairs, merged in zip(segmentations, probabilities, candidates, merged_probs):
            probs = np.array(probs).reshape(-1, 10)
            best = _surest_joins(pairs, merged, probs, key=0)  # one digit per fragment
            for f, ((_, k), p) in sorted(best.items()):
                _join_piece(seg, k, seg.line_fragments[f])
                probs[k] = p  # (two fragments for one digit: the second is read without the first; rare)
            out.append(probs)
        return out

    def _attach_broken_pieces(self, segmentations: list[Segmentation],
                              probabilities: list[np.ndarray]) -> list[np.ndarray]:
        """Recognition-guided repair of broken digits: a mark set aside as too short for a digit (a 2's base, a 5's
        bar) joins the digit beside it (:func:`marks.broken_piece_candidates`) when the two read together as another
        digit with at least ``PIECE_CONFIDENCE``, and no less confidently than the digit alone, less
        ``MERGE_CONFIDENCE_SLACK``; of a digit's marks the one read most confidently joins it (a mark two digits
        would take goes to the first in reading order). A mark that leaves the reading as it was stays a mark (a
        separator)."""
        candidates = []
        for seg in segmentations:
            ref = reference_height(seg.boxes) if seg.boxes else 0.0
            pairs = broken_piece_candidates([box for box, _ in seg.marks], seg.boxes, seg.lines, ref) if ref else []
            candidates.append([(m, k) for m, k in pairs if seg.masks[k] is None])
        if not any(candidates):
            return probabilities
        merged_probs = self._read_together(segmentations, candidates, lambda seg, mk: [
            (seg.boxes[mk[1]], seg.members[mk[1]]), seg.marks[mk[0]]])
        out = []
        for seg, probs, pairs, merged in zip(segmentations, probabilities, candidates, merged_probs):
            probs = np.array(probs).reshape(-1, 10)
            best = _surest_joins(pairs, merged, probs, key=1, also=lambda p, alone: (  # one mark per digit
                p.argmax() != alone.argmax() and p.max() >= PIECE_CONFIDENCE))
            taken = set()
            for k, ((m, _), p) in sorted(best.items()):
                if m in taken:
                    continue
                taken.add(m)
                _join_piece(seg, k, seg.marks[m])
                probs[k] = p
            seg.marks = [mark for m, mark in enumerate(seg.marks) if m not in taken]
            out.append(probs)
        return out

    def _restore_strokes_along_lines(self, segmentations: list[Segmentation],
                                     probabilities: list[np.ndarray]) -> list[np.ndarray]:
        """Recognition-guided repair of a digit whose stroke ran along a printed line (a ``0``'s side on its box's
        side, removed with it): the digit with the line's stretch it meets given back
        (:func:`linestrokes.strokes_along_lines`) replaces it when that is read as another digit, at least as
        confidently as the digit alone and at least ``RESTORE_CONFIDENCE``, with at most ``RESTORE_DOUBT_RATIO``
        times the doubt (1 - confidence) of the digit alone."""
        candidates = [_restored_boxes(seg) for seg in segmentations]
        if not any(candidates):
            return probabilities
        restored_probs = self._classify([seg.crops([box for _, box, _ in found], [seg.members[k] for k, _, _ in found],
                                                   [mask for _, _, mask in found]) if found else np.zeros((0, 28, 28))
                                         for seg, found in zip(segmentations, candidates)])
        out = []
        for seg, probs, found, restored in zip(segmentations, probabilities, candidates, restored_probs):
            probs = np.array(probs).reshape(-1, 10)
            for (k, box, mask), p in zip(found, restored):
                alone = probs[k]
                if (p.argmax() != alone.argmax() and p.max() >= max(alone.max(), RESTORE_CONFIDENCE)
                        and 1.0 - p.max() <= RESTORE_DOUBT_RATIO * (1.0 - alone.max())):
                    seg.boxes[k], seg.masks[k] = box, mask
                    probs[k] = p
            out.append(probs)
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


def _set_aside_hanging_marks(seg: Segmentation, probabilities: np.ndarray) -> np.ndarray:
    """Every whole component of ``seg`` read as a digit that hangs in its row as a comma does
    (:func:`marks.hanging_marks`) becomes a mark, in place; the probabilities of the digits left."""
    hanging = hanging_marks(seg.boxes, seg.lines, [mask is None for mask in seg.masks])
    for k in sorted(hanging, reverse=True):
        seg.set_aside(k)
    return np.delete(np.asarray(probabilities).reshape(-1, 10), hanging, axis=0)


def _cut_box(box: Box, mask: np.ndarray, cuts: list[int]) -> list[tuple[Box, np.ndarray]]:
    """``box`` (with its (h, w) bool ``mask``) cut by straight vertical cuts, column ``c`` of ``cuts`` (box x)
    starting the piece right of it: each piece as ``_tight_piece`` gives it; none where a piece is empty."""
    h, w = mask.shape
    edges = [None, *(np.full(h, min(max(c, 1), w - 1) - 1, np.int32) for c in sorted(cuts)), None]
    pieces = [_tight_piece(box, piece_mask(mask, left, right)) for left, right in zip(edges, edges[1:])]
    return [] if any(piece is None for piece in pieces) else pieces


def _tight_piece(box: Box, piece: np.ndarray) -> tuple[Box, np.ndarray] | None:
    """A piece of ``box`` (its bool mask over the box) as its box, tight round its ink, and its mask in that box;
    None when it holds no ink."""
    ys, xs = np.nonzero(piece)
    if not len(ys):
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return (box[0] + int(x0), box[1] + int(y0), int(x1 - x0), int(y1 - y0)), piece[y0:y1, x0:x1]


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


@dataclass
class _SplitPlan:
    """Candidate pieces of one box: ``pairs[k]`` (cut positions) gives ``boxes[k]`` and ``masks[k]``."""

    index: int
    box: tuple[int, int, int, int]
    n_cuts: int
    height: float  # the row's digit height
    cut_scores: list[float]  # per cut: a cheap cut (crossing under one stroke) is a bonus, a dear one a cost
    pairs: list[tuple[int, int]]
    boxes: list[tuple[int, int, int, int]]
    masks: list[np.ndarray]
    single: np.ndarray | None = None  # the verifier's P(one whole digit) per piece, when there is a verifier
    whole_single: float | None = None  # ... and for the whole box
    paired: bool = False  # both helpers call the box two digits (see DigitReader._judge_boxes)
    max_pieces: int = MAX_DIGITS  # 2 for a box the pair reader is sure holds two digits
    pair_probs: np.ndarray | None = None  # the pair reader's probabilities per piece, when there is a pair reader
    whole_pair: np.ndarray | None = None  # ... and for the whole box

    def _score(self, box: tuple[int, int, int, int], p: np.ndarray, whole: bool = False,
               single: float | None = None) -> float:
        """Log-plausibility of one piece (or of the ``whole`` box): the classifier's confidence, the
        piece's width against the row's digit height, its shape against the digit it is read as, and
        the verifier's belief that it is one whole digit."""
        score = confidence_score(float(p.max())) + width_prior(box[2], self.height)
        if single is not None:
            score += VERIFIER_WEIGHT * max(math.log(max(single, 1e-12)), -VERIFIER_FLOOR)
        score += aspect_prior(int(p.argmax()), box[2], max(box[3], FRAGMENT_HEIGHT * self.height),
                              slack=WHOLE_ASPECT_SLACK if whole else 0.0)
        return score - self._fragment_penalty(box)

    def _fragment_penalty(self, box: tuple[int, int, int, int]) -> float:
        """A piece shorter than ``FRAGMENT_HEIGHT`` row heights is part of a digit, not digits."""
        short = FRAGMENT_HEIGHT - box[3] / self.height
        return 6.0 + 10.0 * short if short > 0 else 0.0

    def _pair_score(self, box: tuple[int, int, int, int], q: np.ndarray) -> float:
        """Log-plausibility of one piece (or the whole box) read as two digits by the pair reader: its confidence in
        the pair (counted for two digits), its belief that the piece is two digits, and the piece's width."""
        score = 2 * (confidence_score(float(q[:PAIR_OTHER].max())) + width_prior(box[2] / 2, self.height))
        score += VERIFIER_WEIGHT * max(math.log(max(1.0 - float(q[PAIR_OTHER:].sum()), 1e-12)), -VERIFIER_FLOOR)
        return score - self._fragment_penalty(box) - PAIR_UNIT_COST

    def _count_scores(self) -> dict[int, float] | None:
        """Log-plausibility of the box holding 1 to 4 digits, from the pair reader's reading of the whole box."""
        if self.whole_pair is None or COUNT_WEIGHT == 0:
            return None
        q = self.whole_pair
        counts = {1: q[PAIR_ONE], 2: q[:PAIR_OTHER].sum(), 3: q[PAIR_THREE], 4: q[PAIR_FOUR]}
        return {k: COUNT_WEIGHT * max(math.log(max(float(p), 1e-12)), -COUNT_FLOOR) for k, p in counts.items()}

    def choose(self, piece_probs: np.ndarray, whole: np.ndarray) -> list[int] | None:
        """Indices of the pieces of the best segmentation, or None when the box stays whole. A ``paired`` box
        whose best segmentation is itself, whole, is cut into its best two pieces: the pair reader will read
        them together (a ``1`` overlapping a ``0`` leaves no piece that reads ``0``, so the whole ``0`` won). With
        the pair reader's readings of the pieces, a piece may also count as two digits read together; it is then
        cut at its best inner cut, and the pair reader reads the two sides together again."""
        scores = {}
        for k, (pair, box, p) in enumerate(zip(self.pairs, self.boxes, piece_probs)):
            single = float(self.single[k]) if self.single is not None else None
            scores[pair] = self._score(box, p, single=single) + (self.cut_scores[pair[0] - 1] if pair[0] > 0 else 0.0)
        whole_key = (0, self.n_cuts + 1)
        whole_score = self._score(self.box, whole, whole=True, single=self.whole_single)
        pair_scores, inner_cut = {}, {}
        if self.pair_probs is not None and self.whole_pair is not None:
            spans = [(pair, box, q) for pair, box, q in zip(self.pairs, self.boxes, self.pair_probs)]
            for (i, j), box, q in [*spans, (whole_key, self.box, self.whole_pair)]:
                inner = [m for m in range(i + 1, j) if (i, m) in scores and (m, j) in scores]
                if inner:  # the pair's two sides: its best two pieces
                    inner_cut[(i, j)] = max(inner, key=lambda m: scores[(i, m)] + scores[(m, j)])
                    pair_scores[(i, j)] = self._pair_score(box, q) + (self.cut_scores[i - 1] if i > 0 else 0.0)
        edges = best_segmentation(self.n_cuts, {whole_key: whole_score, **scores}, self.max_pieces, pair_scores,
                                  self._count_scores())
        if [(i, j) for i, j, _ in edges] == [whole_key] and edges[0][2] == 1 and self.paired:
            edges = best_segmentation(self.n_cuts, scores, max_digits=2)
        pieces: list[tuple[int, int]] = []
        for i, j, digits in edges:
            pieces += [(i, j)] if digits == 1 else [(i, inner_cut[(i, j)]), (inner_cut[(i, j)], j)]
        if len(pieces) <= 1:
            return None
        lookup = {pair: k for k, pair in enumerate(self.pairs)}
        return [lookup[piece] for piece in pieces]


def _surest_joins(pairs: list[tuple[int, int]], merged: list[np.ndarray], probs: np.ndarray, key: int,
                  also: Callable[[np.ndarray, np.ndarray], bool] = lambda p, alone: True
                  ) -> dict[int, tuple[tuple[int, int], np.ndarray]]:
    """Of the (piece, digit) ``pairs`` read together as ``merged``, the surest for each ``pair[key]``: read no less
    confidently than the digit alone (``probs``), less ``MERGE_CONFIDENCE_SLACK``, and passing ``also(p, alone)``.
    Maps ``pair[key]`` to (pair, probabilities)."""
    best: dict[int, tuple[float, tuple[int, int], np.ndarray]] = {}
    for pair, p in zip(pairs, merged):
        alone = probs[pair[1]]
        sure = p.max() >= alone.max() - MERGE_CONFIDENCE_SLACK and p.max() > best.get(pair[key], (-1.0,))[0]
        if sure and also(p, alone):
            best[pair[key]] = (float(p.max()), pair, p)
    return {slot: (pair, p) for slot, (_, pair, p) in best.items()}


def _join_piece(seg: Segmentation, k: int, piece: tuple[Box, list[int]]) -> None:
    """Make ``piece`` (a box and its component labels) part of digit box ``k``, in place."""
    box, ids = piece
    seg.boxes[k] = union_box(seg.boxes[k], box)
    seg.members[k] = seg.members[k] + ids


def _restored_boxes(seg: Segmentation) -> list[tuple[int, Box, np.ndarray]]:
    """(digit, box, bool mask) of each digit of one page that meets a removed printed line along a stretch: its
    pixels with that stretch of the line given back (:func:`linestrokes.strokes_along_lines`)."""
    if seg.printed_lines is None or seg.printed_ink is None or not seg.boxes:
        return []
    strong = seg.printed_ink > 0
    lines = seg.printed_lines > 0
    height, width = lines.shape
    found = []
    for k, (x, y, w, h) in enumerate(seg.boxes):
        pad = max(RESTORE_PAD, int(RESTORE_PAD_RATIO * h))
        x0, y0, x1, y1 = max(0, x - pad), max(0, y - pad), min(width, x + w + pad), min(height, y + h + pad)
        digit = np.zeros((y1 - y0, x1 - x0), bool)
        digit[y - y0:y - y0 + h, x - x0:x - x0 + w] = seg.box_mask(k)
        given = strokes_along_lines(digit, lines[y0:y1, x0:x1], strong[y0:y1, x0:x1])
        if given is None:
            continue
        ys, xs = np.nonzero(digit | given)
        box = (x0 + int(xs.min()), y0 + int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
        found.append((k, box, (digit | given)[ys.min():ys.max() + 1, xs.min():xs.max() + 1]))
    return found


def _fragment_candidates(seg: Segmentation) -> list[tuple[int, int]]:
    """(fragment, digit) pairs of one page that may be one digit: the fragment (``Segmentation.line_fragments``)
    lies within ``FRAGMENT_REACH`` row heights of the digit's box, and the two together are no taller than
    ``FRAGMENT_UNION_HEIGHT`` times the digit (or the row's height) and no wider than ``FRAGMENT_UNION_ASPECT``
    times their height."""
    if not seg.line_fragments or not seg.boxes:
        return []
    ref = reference_height(seg.boxes)
    pairs = []
    for f, (box, _) in enumerate(seg.line_fragments):
        for k, digit in enumerate(seg.boxes):
            if seg.masks[k] is not None:
                continue
            union = union_box(digit, box)
            gap = max(box[0] - digit[0] - digit[2], digit[0] - box[0] - box[2],
                      box[1] - digit[1] - digit[3], digit[1] - box[1] - box[3])
            if (gap <= FRAGMENT_REACH * ref and union[3] <= FRAGMENT_UNION_HEIGHT * max(digit[3], ref)
                    and union[2] <= FRAGMENT_UNION_ASPECT * union[3]):
                pairs.append((f, k))
    return pairs


def _boxes_by_width(seg: Segmentation, low: float, high: float = math.inf) -> list[int]:
    """Boxes from ``low`` to under ``high`` row heights wide and at least 0.6 tall: ``SPLIT_MIN_WIDTH`` and up
    may hold touching digits; from ``NARROW_MIN_WIDTH`` they may be a 1 glued to its neighbour."""
    if not seg.boxes:
        return []
    ref = reference_height(seg.boxes)
    return [i for i, (_, _, w, h) in enumerate(seg.boxes) if low * ref <= w < high * ref and h >= 0.6 * ref]


def _split_plans(seg: Segmentation, probabilities: np.ndarray, doubted: set[int] | None = None,
                 trusted: set[int] | None = None, unbounded: set[int] | None = None) -> list[_SplitPlan]:
    """Candidate splits of the boxes of one page that may hold several touching digits: the wide ones, and
    those the helpers ``doubted`` (see ``DigitReader._judge_boxes``). A box no wider than
    ``SPLIT_KEEP_WIDTH`` digit heights that the classifier reads with ``SPLIT_KEEP_CONFIDENCE`` stays whole
    without trying cuts (same readings on the benchmark, 30-45 % less time per page), unless doubted. Boxes the
    helpers ``trusted`` whole are never cut. In an ``unbounded`` box (the reader passes the doubted ones, which
    include those capped at two pieces), a piece may span any number of candidate cuts; elsewhere ``MAX_DIGITS`` at
    most, so that a wide single digit the verifier accepts is not offered as two halves of five spans each. A digit
    is not four cut spans: a blob with nine candidate cuts often has no two pieces of at most four spans each that
    make it whole."""
    if not seg.boxes:
        return []
    ref = reference_height(seg.boxes)
    width = digit_width(seg.boxes, ref)
    stroke = 0.0
    plans = []
    doubted = doubted or set()
    for index in sorted((set(_boxes_by_width(seg, SPLIT_MIN_WIDTH)) | doubted) - (trusted or set())):
        box = seg.boxes[index]
        w = box[2]
        if w < SPLIT_KEEP_WIDTH * ref and probabilities[index].max() >= SPLIT_KEEP_CONFIDENCE and index not in doubted:
            continue
        if sum(len(plan.pairs) for plan in plans) >= SPLIT_PIECE_BUDGET:  # a page of noise: stop trying cuts
            break
        stroke = stroke or max(1.0, stroke_width(seg.mask))
        mask = seg.box_mask(index)
        cuts = candidate_cuts(mask, width, stroke)
        if not cuts and index in doubted:  # two 1s glued side by side into one bar: the pair reader reads them
            cuts = middle_cut(mask)
        if not cuts:
            continue
        cut_scores = [CUT_COST_WEIGHT * (1.0 - cut_cost(mask, c, stroke)) - SPLIT_COST for c in cuts]
        edges: list[np.ndarray | None] = [None, *cuts, None]
        pairs, boxes, masks = [], [], []
        for i, j in pieces_to_try(cuts, len(cuts) + 1 if index in (unbounded or set()) else MAX_DIGITS):
            tight = _tight_piece(box, piece_mask(mask, edges[i], edges[j]))
            if tight is None:
                continue
            pairs.append((i, j))
            boxes.append(tight[0])
            masks.append(tight[1])
        if pairs:
            plans.append(_SplitPlan(index, box, len(cuts), ref, cut_scores, pairs, boxes, masks))
    return plans
