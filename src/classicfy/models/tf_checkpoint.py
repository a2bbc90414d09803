"""Read TensorFlow (v2 format) checkpoints with numpy alone, checking every tensor's CRC32C.

A checkpoint `PREFIX.index` is an uncompressed LevelDB-style sorted table mapping tensor names to
BundleEntryProto records (dtype, shape, offset, size, masked CRC32C); the tensors themselves are raw
little-endian arrays in `PREFIX.data-00000-of-00001`. Only what the musicnn checkpoints use is
supported: float32/int32/int64 tensors in a single shard.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_TABLE_MAGIC = 0xDB4775248B80FB57
_DTYPES = {1: np.float32, 3: np.int32, 9: np.int64}  # TensorFlow DataType enum values


class CheckpointError(ValueError):
    """The checkpoint files are damaged or use a feature this reader does not support."""


@dataclass(frozen=True)
class TensorEntry:
    dtype: int
    shape: tuple[int, ...]
    offset: int
    size: int
    crc32c: int | None


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _protobuf_fields(data: bytes):
    """(field number, wire type, value) of a serialized protobuf message, top level only."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise CheckpointError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _parse_entry(data: bytes) -> TensorEntry:
    dtype, shape, shard, offset, size, crc = 0, [], 0, 0, 0, None
    for number, _, value in _protobuf_fields(data):
        if number == 1:
            dtype = value
        elif number == 2:  # TensorShapeProto: repeated Dim (field 2) with size (field 1)
            for dim_number, _, dim in _protobuf_fields(value):
                if dim_number == 2:
                    shape.append(next((v for n, _, v in _protobuf_fields(dim) if n == 1), 0))
        elif number == 3:
            shard = value
        elif number == 4:
            offset = value
        elif number == 5:
            size = value
        elif number == 6:
            crc = struct.unpack("<I", value)[0]
        elif number == 7:
            raise CheckpointError("sliced tensors are not supported")
    if shard:
        raise CheckpointError("multi-shard checkpoints are not supported")
    return TensorEntry(dtype, tuple(shape), offset, size, crc)


def _block_entries(table: bytes, offset: int, size: int):
    """(key, value) pairs of one table block (keys are prefix-compressed)."""
    block = table[offset : offset + size]
    if table[offset + size] != 0:
        raise CheckpointError("compressed checkpoint tables are not supported")
    n_restarts = struct.unpack("<I", block[-4:])[0]
    end = len(block) - 4 * (n_restarts + 1)
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_length, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + value_length]
        pos += value_length


def read_index(index_path: str | Path) -> dict[str, TensorEntry]:
    """Every tensor entry of a checkpoint's `.index` table, by name."""
    index_path = Path(index_path)
    table = index_path.read_bytes()
    if len(table) < 48 or struct.unpack("<Q", table[-8:])[0] != _TABLE_MAGIC:
        raise CheckpointError(f"{index_path} is not a TensorFlow checkpoint index")
    _, pos = _varint(table, len(table) - 48)  # metaindex handle (unused)
    _, pos = _varint(table, pos)
    index_offset, pos = _varint(table, pos)
    index_size, _ = _varint(table, pos)
    entries = {}
    for _, handle in _block_entries(table, index_offset, index_size):
        block_offset, pos = _varint(handle, 0)
        block_size, _ = _varint(handle, pos)
        for key, value in _block_entries(table, block_offset, block_size):
            if key:  # the empty key holds the bundle header
                entries[key.decode()] = _parse_entry(value)
    return entries


def _masked_crc32c(data: bytes) -> int:
    import google_crc32c

    crc = google_crc32c.value(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def load_checkpoint(index_path: str | Path, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Tensors of the checkpoint `PREFIX.index` (all, or those named), each verified by CRC32C."""
    index_path = Path(index_path)
    entries = read_index(index_path)
    data_path = index_path.with_name(index_path.name.removesuffix(".index") + ".data-00000-of-00001")
    tensors = {}
    with open(data_path, "rb") as handle:
        for name in names if names is not None else sorted(entries):
            entry = entries[name]
            if entry.dtype not in _DTYPES:
                raise CheckpointError(f"{name}: unsupported dtype {entry.dtype}")
            handle.seek(entry.offset)
            raw = handle.read(entry.size)
            if len(raw) != entry.size or (entry.crc32c is not None and _masked_crc32c(raw) != entry.crc32c):
                raise CheckpointError(f"{name}: checksum mismatch in {data_path}")
            tensors[name] = np.frombuffer(raw, dtype=np.dtype(_DTYPES[entry.dtype]).newbyteorder("<")).reshape(
                entry.shape
            )
    return tensors
