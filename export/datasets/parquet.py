"""Parquet columns (pyarrow, imported by the functions) -> numpy rows and lazily decoded image frames."""

from __future__ import annotations

import numpy as np

from .episode import DatasetError, FrameKind, FrameSequence


def read_table(path, columns=None):
    """pyarrow.parquet.read_table, with an unreadable file reported as a DatasetError naming it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path, columns=columns)
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(f"{path}: not a readable parquet file ({exc})") from None


def column_names(path) -> list[str]:
    """The parquet file's column names (its schema only)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_schema(path).names
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(f"{path}: not a readable parquet file ({exc})") from None


def matrix(table, key: str, where: str) -> np.ndarray:
    """A numeric column (scalar or fixed-length list per row) -> (N, K) float64; nulls become NaN."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = table.column(key).combine_chunks()
    n = len(col)
    if pa.types.is_list(col.type) or pa.types.is_large_list(col.type) or pa.types.is_fixed_size_list(col.type):
        widths = pc.list_value_length(col).to_numpy(zero_copy_only=False)
        if n and (col.null_count or (widths != widths[0]).any()):
            raise DatasetError(f"{where}: column {key!r} has rows of different lengths or null rows "
                               f"(lengths {sorted(set(widths.tolist()))[:5]})")
        flat = pc.list_flatten(col)
        if not (pa.types.is_floating(flat.type) or pa.types.is_integer(flat.type)):
            raise DatasetError(f"{where}: column {key!r} holds {col.type}; expected a list of numbers per row")
        return flat.to_numpy(zero_copy_only=False).astype(np.float64).reshape(n, int(widths[0]) if n else 0)
    if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
        return col.to_numpy(zero_copy_only=False).astype(np.float64).reshape(n, 1)
    raise DatasetError(f"{where}: column {key!r} holds {col.type}; expected numbers")


def image_column(col, describe: str, convert=None, kind: FrameKind = FrameKind.RGB) -> FrameSequence:
    """LeRobot `image` features: a struct {bytes, path} per row holding a PNG/JPEG (RGB), or a 16-bit PNG/TIFF
    for a depth feature (decoded unchanged, then convert(image)); decoded on demand."""
    def get(i: int) -> np.ndarray:
        import cv2

        value = col[i].as_py()
        data = value.get("bytes") if isinstance(value, dict) else None
        flag = cv2.IMREAD_COLOR if kind is FrameKind.RGB else cv2.IMREAD_UNCHANGED
        image = None if not data else cv2.imdecode(np.frombuffer(data, np.uint8), flag)
        if image is None:
            raise DatasetError(f"{describe}: row {i} holds no decodable image bytes")
        return convert(image) if convert is not None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    return FrameSequence(len(col), get, describe=describe, kind=kind, storage={"codec": "parquet image (PNG/JPEG)"})
