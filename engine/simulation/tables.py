"""Rows out to the files researchers load: CSV and JSON lines here, Parquet and pandas via the ``sim`` extra.

Every writer is deterministic: the same rows give the same bytes (columns in the given
order, floats as Python's shortest repr, missing values as an empty CSV field / JSON null).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

Row = Mapping[str, Any]
#: The file suffixes :func:`write` understands, and what each needs.
FORMATS = {".csv": "core", ".jsonl": "core", ".parquet": "the sim extra (pyarrow)"}


class MissingExtra(RuntimeError):
    """An optional dependency is not installed; the message says which extra brings it."""


def require(module: str, extra: str) -> Any:
    """Import ``module`` or raise :class:`MissingExtra` naming ``pip install 'agentmarket[extra]'``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{module} is not installed; pip install 'agentmarket[{extra}]'") from None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def to_csv(rows: Iterable[Row], columns: Sequence[str]) -> str:
    """The rows as CSV text with a header, ``\\n`` line ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def to_jsonl(rows: Iterable[Row], columns: Sequence[str]) -> str:
    """The rows as JSON lines, keys in ``columns`` order."""
    return "".join(json.dumps({c: row.get(c) for c in columns}, ensure_ascii=False) + "\n" for row in rows)


def write(path: str | Path, rows: Sequence[Row], columns: Sequence[str]) -> Path:
    """Write ``rows`` to ``path`` in the format its suffix names (.csv, .jsonl, .parquet).

    Raises:
        ValueError: an unknown suffix.
        MissingExtra: .parquet without pyarrow.
        OSError: the file cannot be written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        path.write_text(to_csv(rows, columns), encoding="utf-8")
    elif suffix == ".jsonl":
        path.write_text(to_jsonl(rows, columns), encoding="utf-8")
    elif suffix == ".parquet":
        pq = require("pyarrow.parquet", "sim")
        pa = require("pyarrow", "sim")
        table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows],
                                     schema=_schema(pa, rows, columns))
        pq.write_table(table, path)
    else:
        raise ValueError(f"unknown table format {path.suffix!r}; use one of {', '.join(FORMATS)}")
    return path


def read(path: str | Path) -> list[dict[str, Any]]:
    """Rows back from a file :func:`write` made (CSV cells come back typed: int, float or None)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    if suffix == ".parquet":
        return require("pyarrow.parquet", "sim").read_table(path).to_pylist()
    with path.open(encoding="utf-8", newline="") as handle:
        return [{k: _typed(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def _typed(cell: str) -> Any:
    if cell == "":
        return None
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            pass
    return cell


def _schema(pa: Any, rows: Sequence[Row], columns: Sequence[str]) -> Any:
    """Column types from the values (ints that are sometimes floats become floats)."""
    fields = []
    for column in columns:
        kinds = {type(row.get(column)) for row in rows} - {type(None)}
        if kinds <= {bool}:
            kind = pa.bool_() if kinds else pa.float64()
        elif kinds <= {int}:
            kind = pa.int64()
        elif kinds <= {int, float}:
            kind = pa.float64()
        else:
            kind = pa.string()
        fields.append(pa.field(column, kind))
    return pa.schema(fields)


def to_pandas(rows: Sequence[Row], columns: Sequence[str]) -> Any:
    """The rows as a pandas DataFrame (needs the ``sim`` extra)."""
    pd = require("pandas", "sim")
    return pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=list(columns))
