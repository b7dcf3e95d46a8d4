"""Stage 3a: recognition-guided repairs of broken digits and marks, between segmenting a page and splitting its
touching digits. Two pieces of one digit are read together and kept together when the classifier reads them so
about as surely; pieces that removing a printed line cut off, or that a faint stroke left apart, rejoin their
digit when that improves its reading; a digit's stroke that lay along a removed line is given back; and a whole
component that hangs in its row as a comma does becomes a mark.

Each function takes the page's segmentations and the classifier's probabilities for their boxes, and ``classify``:
the reader's batched classifier call (crops per image in, probabilities per image out), so it can be tested with
a stand-in.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .linestrokes import strokes_along_lines
from .marks import broken_piece_candidates, hanging_marks
from .segment import Box, Segmentation, close_pairs, merge_pair, reference_height, union_box

Classify = Callable[[list[np.ndarray]], list[np.ndarray]]  # crops per image -> probabilities per image

RESTORE_DOUBT_RATIO = 0.5  # a digit given back its stroke along a line must be read this much less doubtfully
RESTORE_CONFIDENCE = 0.95  # ... and read at least this confidently
# ... or, read as the same digit no less surely, the verifier (when the reader has one) doubts it alone (P(one whole
# digit) < RESTORE_DOUBTED_SINGLE) and not with the stroke given back (>= RESTORE_WHOLE_SINGLE): a 0 whose bottom
# lay on a rule is an arch alone, still read 0, that the splitter would cut into 1 1.
RESTORE_DOUBTED_SINGLE, RESTORE_WHOLE_SINGLE = 0.02, 0.5
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


def merge_broken_digits(classify: Classify, segmentations: list[Segmentation],
                        probabilities: list[np.ndarray]) -> list[np.ndarray]:
    """Recognition-guided merging: two close pieces become one digit when the merged crop is read
    about as confidently as the pieces were (a broken 0 or 4 merges; '11' written close stays)."""
    candidates = [close_pairs(seg) for seg in segmentations]
    if not any(candidates):
        return probabilities
    merged_probs = _read_together(classify, segmentations, candidates,
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


def _read_together(classify: Classify, segmentations: list[Segmentation], candidates: list[list[tuple[int, int]]],
                   parts: Callable[[Segmentation, tuple[int, int]], list[tuple[Box, list[int]]]],
                   ) -> list[np.ndarray]:
    """Per image, the classifier's probabilities for each candidate read as one crop: the union of the two
    (box, component labels) that ``parts(seg, candidate)`` gives (one batched call for all images)."""
    crops = []
    for seg, pairs in zip(segmentations, candidates):
        joined = [parts(seg, pair) for pair in pairs]
        crops.append(seg.crops([union_box(a[0], b[0]) for a, b in joined], [a[1] + b[1] for a, b in joined]))
    return classify(crops)


def attach_line_fragments(classify: Classify, segmentations: list[Segmentation],
                          probabilities: list[np.ndarray]) -> list[np.ndarray]:
    """Recognition-guided repair along printed lines: a piece of ink that removing a line cut off a digit (a 6's
    loop written on a ruled line) joins the neighbouring digit whose crop with it is read about as confidently
    as, or more than, the digit alone (see :func:`fragment_candidates`); the most confident such reading wins."""
    candidates = [fragment_candidates(seg) for seg in segmentations]
    if not any(candidates):
        return probabilities
    merged_probs = _read_together(classify, segmentations, candidates, lambda seg, fk: [
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


def attach_broken_pieces(classify: Classify, segmentations: list[Segmentation],
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
    merged_probs = _read_together(classify, segmentations, candidates, lambda seg, mk: [
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


def restore_strokes_along_lines(classify: Classify, segmentations: list[Segmentation],
                                probabilities: list[np.ndarray], verify: Classify | None = None) -> list[np.ndarray]:
    """Recognition-guided repair of a digit whose stroke ran along a printed line (a ``0``'s side on its box's
    side, removed with it): the digit with the line's stretch it meets given back
    (:func:`linestrokes.strokes_along_lines`) replaces it when that is read at least as confidently as the digit
    alone and at least ``RESTORE_CONFIDENCE``, with at most ``RESTORE_DOUBT_RATIO`` times the doubt
    (1 - confidence) of the digit alone: as another digit, or as the same one read under ``RESTORE_CONFIDENCE``
    alone (a 0 that lost a side, read 0 at 0.6, is given it back; one read at 0.9999 is not) when the verifier
    (``verify``) takes it for one whole digit (``RESTORE_WHOLE_SINGLE``: a blob of several digits read as one is
    left to the splitter as it is). With ``verify``
    (crops per image in, the verifier's P(one whole digit) per image out), also when it is read as the same
    digit, no less confidently, and the verifier takes it for a whole digit (``RESTORE_WHOLE_SINGLE``) where it
    doubted the digit alone (``RESTORE_DOUBTED_SINGLE``)."""
    candidates = [restored_boxes(seg) for seg in segmentations]
    if not any(candidates):
        return probabilities
    restored_crops = [seg.crops([box for _, box, _ in found], [seg.members[k] for k, _, _ in found],
                                [mask for _, _, mask in found]) if found else np.zeros((0, 28, 28))
                      for seg, found in zip(segmentations, candidates)]
    restored_probs = classify(restored_crops)
    whole_alone, whole_restored = _verified(verify, segmentations, candidates, restored_crops)
    out = []
    for i, (seg, probs, found, restored) in enumerate(zip(segmentations, probabilities, candidates, restored_probs)):
        probs = np.array(probs).reshape(-1, 10)
        for j, ((k, box, mask), p) in enumerate(zip(found, restored)):
            alone = probs[k]
            same = p.argmax() == alone.argmax()
            surer = (p.max() >= max(alone.max(), RESTORE_CONFIDENCE)
                     and 1.0 - p.max() <= RESTORE_DOUBT_RATIO * (1.0 - alone.max())
                     and (not same or (alone.max() < RESTORE_CONFIDENCE
                                       and whole_restored[i][j] >= RESTORE_WHOLE_SINGLE)))
            made_whole = (same and p.max() >= alone.max()
                          and whole_alone[i][j] < RESTORE_DOUBTED_SINGLE
                          and whole_restored[i][j] >= RESTORE_WHOLE_SINGLE)
            if surer or made_whole:
                seg.boxes[k], seg.masks[k] = box, mask
                probs[k] = p
        out.append(probs)
    return out


def _verified(verify: Classify | None, segmentations: list[Segmentation],
              candidates: list[list[tuple[int, Box, np.ndarray]]], restored_crops: list[np.ndarray]
              ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The verifier's P(one whole digit) for each candidate digit alone and with its stroke given back (ones
    that keep the digit as it is, without a verifier)."""
    if verify is None:
        ones = [np.ones(len(found)) for found in candidates]
        return ones, ones
    alone_crops = [seg.crops([seg.boxes[k] for k, _, _ in found], [seg.members[k] for k, _, _ in found],
                             [seg.masks[k] for k, _, _ in found]) if found else np.zeros((0, 28, 28))
                   for seg, found in zip(segmentations, candidates)]
    both = verify([np.concatenate([a, r]) if len(a) else a for a, r in zip(alone_crops, restored_crops)])
    counts = [len(found) for found in candidates]
    return [p[:n] for p, n in zip(both, counts)], [p[n:] for p, n in zip(both, counts)]


def set_aside_hanging_marks(seg: Segmentation, probabilities: np.ndarray) -> np.ndarray:
    """Every whole component of ``seg`` read as a digit that hangs in its row as a comma does
    (:func:`marks.hanging_marks`) becomes a mark, in place; the probabilities of the digits left."""
    hanging = hanging_marks(seg.boxes, seg.lines, [mask is None for mask in seg.masks])
    for k in sorted(hanging, reverse=True):
        seg.set_aside(k)
    return np.delete(np.asarray(probabilities).reshape(-1, 10), hanging, axis=0)


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


def restored_boxes(seg: Segmentation) -> list[tuple[int, Box, np.ndarray]]:
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


def fragment_candidates(seg: Segmentation) -> list[tuple[int, int]]:
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
