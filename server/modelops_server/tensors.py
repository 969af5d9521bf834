"""Raw tensor bytes of the Open Inference Protocol: decode with strict bounds checks, encode for replies.

The REST binary data extension (`binary.py`) and gRPC's `raw_input_contents`/`raw_output_contents`
(`grpc_service.py`) carry tensors in the same layout: numeric tensors as little-endian row-major values,
BYTES tensors as elements each preceded by a 4-byte little-endian length. Every malformed buffer (wrong
size, a length prefix past the end, bytes left over, invalid UTF-8) is a BadRequest, never a crash.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from modelops_server.errors import BadRequest

LENGTH = struct.Struct("<I")
OIP_DTYPES: dict[str, Any] = {
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
}  # fmt: skip
NUMPY_TO_OIP = {np.dtype(v).name: k for k, v in OIP_DTYPES.items()}


def element_count(shape: Sequence[int]) -> int:
    """Number of elements a shape holds."""
    return int(np.prod(shape, dtype=np.int64)) if shape else 1


def decode_raw(name: str, shape: list[int], datatype: str, raw: bytes) -> list[str] | np.ndarray:
    """One input tensor's values from its raw bytes; sizes are checked against the shape before any copy."""
    count = element_count(shape)
    if datatype == "BYTES":
        return decode_bytes(name, raw, count)
    dtype = OIP_DTYPES.get(datatype)
    if dtype is None:
        raise BadRequest(f"input {name!r}: datatype {datatype!r} is not an Open Inference Protocol datatype")
    wire = np.dtype(dtype).newbyteorder("<")
    if len(raw) != count * wire.itemsize:
        raise BadRequest(
            f"input {name!r} has {len(raw)} bytes of {datatype} data but shape {shape} needs "
            f"{count * wire.itemsize}"
        )
    return np.frombuffer(raw, dtype=wire).astype(dtype, copy=False)


def decode_bytes(name: str, raw: bytes, count: int) -> list[str]:
    """`count` length-prefixed UTF-8 strings that fill `raw` exactly."""
    values: list[str] = []
    offset, end = 0, len(raw)
    while offset < end:
        if offset + LENGTH.size > end:
            raise BadRequest(f"input {name!r}: BYTES element {len(values)} has a truncated length prefix")
        (size,) = LENGTH.unpack_from(raw, offset)
        offset += LENGTH.size
        if size > end - offset:
            raise BadRequest(
                f"input {name!r}: BYTES element {len(values)} declares {size} bytes but only "
                f"{end - offset} remain"
            )
        try:
            values.append(raw[offset : offset + size].decode("utf-8"))
        except UnicodeDecodeError as error:
            raise BadRequest(f"input {name!r}: BYTES element {len(values)} is not UTF-8") from error
        offset += size
        if len(values) > count:
            break
    if len(values) != count:
        raise BadRequest(f"input {name!r} has {len(values)} BYTES elements but its shape needs {count}")
    return values


def encode_raw(datatype: str, data: Any) -> bytes:
    """Raw bytes of an output tensor: a numpy array, or a list of strings for BYTES."""
    if datatype == "BYTES":
        parts = []
        for value in data:
            encoded = value.encode("utf-8") if isinstance(value, str) else bytes(value)
            parts += [LENGTH.pack(len(encoded)), encoded]
        return b"".join(parts)
    array = np.asarray(data)
    return array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()


class Cursor:
    """Hands out consecutive slices of the binary section; every slice and the end are bounds-checked."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.offset = 0

    def take(self, name: str, size: Any) -> bytes:
        """The next `size` bytes for input `name`."""
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BadRequest(f"input {name!r}: parameters.binary_data_size must be a non-negative integer")
        remaining = len(self.data) - self.offset
        if size > remaining:
            raise BadRequest(
                f"input {name!r} declares binary_data_size {size} but only {remaining} bytes of binary "
                "data remain"
            )
        chunk = bytes(self.data[self.offset : self.offset + size])
        self.offset += size
        return chunk

    def finish(self) -> None:
        """Bytes nobody claimed mean the header and the body disagree."""
        left = len(self.data) - self.offset
        if left:
            raise BadRequest(f"{left} bytes of binary data follow the last input's binary_data_size")
