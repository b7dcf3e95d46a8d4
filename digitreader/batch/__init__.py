"""Batch reading of folders of scans: streaming inputs, worker processes or a Dask cluster, resumable sinks.

    from digitreader.batch import BatchOptions, run_batch
    summary = run_batch(BatchOptions(inputs=["scans/"], out="results.jsonl", jobs=2))

Nothing heavy is imported here: TensorFlow/ONNX load in the workers, Dask only with ``scheduler``.
"""

from __future__ import annotations

from .runner import BatchOptions, Summary, run_batch
from .sinks import iter_records

__all__ = ["BatchOptions", "Summary", "iter_records", "run_batch"]
