"""How exactly the reader measures a skewed page's tilt: the angle it levels a page with printed lines by
(``segment(image).tilt``, from ``skew.py``), against the true one.

    python benchmarks/tilt.py --data bench-s0 --rotate 1 3 -2

Two kinds of pages of a set made by synth.py: its amounts pages, each turned by the generator by a random angle
(-3 to 3 degrees, re-rendered here to learn it: needs the full MNIST), of which those with a printed amount box
have lines to measure; and its form pages (printed level), turned by each ``--rotate`` angle as accuracy.py turns
them, and as they are (0: the tilt should be 0.0). Per group: the pages whose printed lines were found, those
left unlevelled (tilt 0.0) although turned by ``MIN_SKEW`` or more, or levelled although level, and the error of
the tilt (degrees; an unlevelled page counts its whole turn).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth  # noqa: E402
from accuracy import rotated  # noqa: E402

from digitreader.imageio import decode_image_file  # noqa: E402
from digitreader.segment import MIN_SKEW, segment  # noqa: E402


def amounts_turns(seed: int, records: list[dict], mnist: Path) -> list[float]:
    """The angle synth turned each amounts page by, learnt by rendering the page again with ``synth.rotation``
    watched (the pages are the same, byte for byte, as the set's)."""
    source = synth.require_mnist(mnist)
    seen: list[float] = []
    original = synth.rotation

    def watched(shape: tuple[int, int], degrees: float):
        seen.append(degrees)
        return original(shape, degrees)

    synth.rotation = watched
    try:
        turns = []
        for record in records:
            index = int(Path(record["file"]).stem.rsplit("_", 1)[1])
            seen.clear()
            synth.make_image("amounts", synth.image_rng(seed, "amounts", index), source)
            turns.append(seen[0])
        return turns
    finally:
        synth.rotation = original


def measure(pages: list[tuple[np.ndarray, float]]) -> dict:
    """Tilt errors over ``pages`` (image, the degrees it is turned by) whose printed lines are found."""
    errors, missed, wrongly = [], 0, 0
    for image, turn in pages:
        seg = segment(image)
        if not seg.printed:
            continue
        level_by = -turn  # the angle that levels a page turned counter-clockwise by ``turn``
        if seg.tilt == 0.0:
            missed += abs(turn) >= MIN_SKEW
        elif abs(turn) < MIN_SKEW:
            wrongly += 1
        errors.append(abs(seg.tilt - level_by))
    e = np.array(errors) if errors else np.zeros(1)
    return {"pages": len(pages), "with lines": len(errors), "turned, not levelled": missed,
            "level, levelled": wrongly, "mean error": round(float(e.mean()), 3),
            "median error": round(float(np.median(e)), 3), "over 0.2": int((e > 0.2).sum()),
            "over 0.5": int((e > 0.5).sum())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="a folder made by synth.py (its seed is read "
                        "from its name's last number unless --seed)")
    parser.add_argument("--seed", type=int, help="the --seed the set was made with")
    parser.add_argument("--rotate", type=float, nargs="*", default=[1.0, 3.0, -2.0], metavar="DEG")
    parser.add_argument("--mnist", type=Path, default=synth.default_mnist_path())
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else int("".join(c for c in args.data.name if c.isdigit()) or 0)
    records = [json.loads(line) for line in (args.data / "truth.jsonl").read_text().splitlines()]
    report = {}
    amounts = [r for r in records if r["category"] == "amounts"]
    if amounts:
        turns = amounts_turns(seed, amounts, args.mnist)
        report["amounts (as made)"] = measure([(decode_image_file(args.data / r["file"]), t)
                                               for r, t in zip(amounts, turns)])
    forms = [r for r in records if r["category"] == "form"]
    for degrees in ([0.0, *args.rotate] if forms else []):
        pages = []
        for record in forms:
            image = decode_image_file(args.data / record["file"])
            pages.append((rotated(image, record, degrees)[0] if degrees else image, degrees))
        report[f"form, turned {degrees:g} deg"] = measure(pages)
    keys = list(next(iter(report.values())).keys()) if report else []
    print(f"| pages ({args.data.name}) | " + " | ".join(keys) + " |")
    print("|---|" + "---:|" * len(keys))
    for name, row in report.items():
        print(f"| {name} | " + " | ".join(str(row[k]) for k in keys) + " |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
