"""Just enough of the TFLite flatbuffer format to vet a file before an interpreter sees it.

Reads the file identifier and the operator codes' custom names, so that a
file that is not TFLite, a truncated file, or a model that needs a custom op
(the Edge TPU's or Coral's pose decoder) is told apart with a clear message
instead of an interpreter crash.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import List, Tuple

from ...errors import ModelFormatError

TFLITE_IDENTIFIER = b"TFL3"
_MODEL_OPERATOR_CODES = 1  # field index in table Model
_MODEL_BUFFERS = 4
_OPCODE_CUSTOM_CODE = 1  # field index in table OperatorCode
_BUFFER_OFFSET = 1  # field index in table Buffer (models over 2 GB keep data after the flatbuffer)
_BUFFER_SIZE = 2


@dataclass(frozen=True)
class TFLiteFileInfo:
    """What the flatbuffer header says about a model file."""

    path: str
    size: int
    custom_ops: Tuple[str, ...]


class _Reader:
    def __init__(self, data: bytes, path: str):
        self.data = data
        self.path = path

    def fail(self, what: str) -> ModelFormatError:
        return ModelFormatError(f"{self.path}: truncated or corrupt TFLite file ({what})")

    def _unpack(self, fmt: str, pos: int) -> int:
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > len(self.data):
            raise self.fail(f"offset {pos} beyond {len(self.data)} bytes")
        return struct.unpack_from(fmt, self.data, pos)[0]

    def u16(self, pos: int) -> int:
        return self._unpack("<H", pos)

    def u32(self, pos: int) -> int:
        return self._unpack("<I", pos)

    def i32(self, pos: int) -> int:
        return self._unpack("<i", pos)

    def u64(self, pos: int) -> int:
        return self._unpack("<Q", pos)

    def field(self, table: int, index: int) -> int:
        """Absolute position of a table field, or 0 when the field is absent."""
        vtable = table - self.i32(table)
        vtable_size = self.u16(vtable)
        slot = 4 + 2 * index
        if slot >= vtable_size:
            return 0
        offset = self.u16(vtable + slot)
        return table + offset if offset else 0

    def indirect(self, pos: int) -> int:
        return pos + self.u32(pos)

    def vector(self, pos: int, element_size: int = 4) -> Tuple[int, int]:
        """(first element position, length) of the vector referenced at `pos`."""
        start = self.indirect(pos)
        length = self.u32(start)
        if start + 4 + element_size * length > len(self.data):
            raise self.fail(f"vector of {length} entries at {start} runs past the end")
        return start + 4, length

    def tables(self, table: int, index: int) -> List[int]:
        """Positions of the tables in a table's vector-of-tables field (none when the field is absent)."""
        pos = self.field(table, index)
        if not pos:
            return []
        first, count = self.vector(pos)
        return [self.indirect(first + 4 * i) for i in range(count)]

    def string(self, pos: int) -> str:
        start = self.indirect(pos)
        length = self.u32(start)
        raw = self.data[start + 4: start + 4 + length]
        if len(raw) != length:
            raise self.fail(f"string at {start} runs past the end")
        return raw.decode("utf-8", "replace")


def read_tflite_info(path: str) -> TFLiteFileInfo:
    """Check that `path` is a complete TFLite model and list its custom ops."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ModelFormatError(f"{path}: cannot read model file ({exc.strerror or exc})") from exc
    if len(data) < 8 or data[4:8] != TFLITE_IDENTIFIER:
        raise ModelFormatError(
            f"{path}: not a TFLite model (no '{TFLITE_IDENTIFIER.decode()}' identifier in the header)"
        )
    reader = _Reader(data, path)
    root = reader.u32(0)
    custom_ops: List[str] = []
    for code in reader.tables(root, _MODEL_OPERATOR_CODES):
        name_field = reader.field(code, _OPCODE_CUSTOM_CODE)
        name = reader.string(name_field) if name_field else ""
        if name and name not in custom_ops:
            custom_ops.append(name)
    for i, buffer in enumerate(reader.tables(root, _MODEL_BUFFERS)):
        offset_field = reader.field(buffer, _BUFFER_OFFSET)
        if offset_field:  # data stored after the flatbuffer: check it is all there
            offset = reader.u64(offset_field)
            size_field = reader.field(buffer, _BUFFER_SIZE)
            size = reader.u64(size_field) if size_field else 0
            if offset > 1 and offset + size > len(data):
                raise reader.fail(f"weights buffer {i} ends at {offset + size}, file has {len(data)} bytes")
        else:
            data_field = reader.field(buffer, 0)
            if data_field:
                reader.vector(data_field, element_size=1)
    return TFLiteFileInfo(path=path, size=len(data), custom_ops=tuple(custom_ops))
