import csv
import io
import json

from digitreader.result import CSV_HEADER, Digit, Result, to_csv, to_json_lines, to_text


def _result(min_confidence=0.0):
    digits = (Digit(4, 0.99, (10, 5, 20, 30), 0), Digit(2, 0.40, (40, 5, 20, 30), 0),
              Digit(7, 0.95, (10, 60, 20, 30), 1))
    return Result("a.png", digits, model="m.keras", min_confidence=min_confidence)


def test_lines_and_text():
    assert _result().lines == ["42", "7"]
    assert _result().text == "42\n7"


def test_low_confidence_digits_shown_as_question_mark():
    assert _result(0.5).lines == ["4?", "7"]
    assert _result(0.5).as_dict()["digits"][1]["value"] == 2  # the argmax is still reported


def test_json_schema():
    record = json.loads(_result().to_json())
    assert set(record) == {"path", "text", "lines", "digits", "model", "error"}
    assert record["digits"][0] == {"value": 4, "confidence": 0.99, "box": [10, 5, 20, 30], "line": 0}
    assert record["error"] is None
    lines = to_json_lines([_result(), Result("b.png", error="BAD")]).splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["error"] == "BAD"


def test_csv_one_row_per_digit():
    rows = list(csv.reader(io.StringIO(to_csv([_result()]))))
    assert tuple(rows[0]) == CSV_HEADER
    assert rows[1:] == [["a.png", "0", "0", "4", "0.990000", "10", "5", "20", "30"],
                        ["a.png", "0", "1", "2", "0.400000", "40", "5", "20", "30"],
                        ["a.png", "1", "0", "7", "0.950000", "10", "60", "20", "30"]]


def test_text_with_paths_for_several_images():
    out = to_text([_result(), Result("b.png", error="x")], with_paths=True)
    assert out == "a.png\t42 7\nb.png\t\n"
    assert to_text([_result()], with_paths=False) == "42\n7\n"
