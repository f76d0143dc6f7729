"""Repair and recovery of a file whose writer was killed: HDF5's "open for writing" mark in
the superblock (with its Jenkins lookup3 checksum), and a copy of the committed content."""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from curator.errors import FormatError
from curator.store.spec import HISTORY, LIBVER, STAT_DTYPES


def _left_open(exc: OSError) -> bool:
    """HDF5's error for a file whose last writer did not close it (killed, or writing now)."""
    return "already open for write" in str(exc)


# HDF5 superblock v2/v3 (the 1.10 format): signature, version, sizes, consistency flags...
_SIGNATURE = b"\x89HDF\r\n\x1a\n"


_FLAGS_AT = 11


_WRITE_ACCESS, _SWMR_WRITE_ACCESS = 0x01, 0x04


def _superblock(path: Path) -> tuple[bytes, int]:
    """The superblock bytes before its checksum, and the stored checksum."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    if not head.startswith(_SIGNATURE) or head[8] not in (2, 3):
        raise FormatError(f"{str(path)!r} does not start with an HDF5 1.10 superblock")
    end = 12 + 4 * head[9]  # four addresses of 'size of offsets' bytes
    return head[:end], int.from_bytes(head[end:end + 4], "little")


def _open_mark(path: Path) -> int:
    """The superblock's file-consistency flags (non-zero: a writer has it open)."""
    return _superblock(path)[0][_FLAGS_AT]


def repair(path: str | Path) -> None:
    """Make a file whose writer was killed writable and readable again.

    Killed while appending in SWMR mode: the committed content is copied into a fresh file
    (:func:`recover`). Killed in any other write: HDF5 had flushed nothing of that write (it
    writes metadata when the file closes), so the file is its state before the write, and
    only the "open for writing" mark is cleared, as ``h5clear --status`` does; the
    superblock's checksum is recomputed, after checking that this code reproduces the stored
    one."""
    path = Path(path)
    body, checksum = _superblock(path)
    if body[_FLAGS_AT] & _SWMR_WRITE_ACCESS:
        recover(path)
        return
    if _lookup3(body) != checksum:
        raise FormatError(f"cannot repair {str(path)!r}: its superblock checksum does not "
                          "match", hint="the file is damaged; score again with --force")
    cleared = bytearray(body)
    cleared[_FLAGS_AT] = 0
    with open(path, "r+b") as fh:
        fh.write(bytes(cleared) + _lookup3(bytes(cleared)).to_bytes(4, "little"))
        fh.flush()
        os.fsync(fh.fileno())


def _lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle``, HDF5's metadata checksum (H5_checksum_lookup3)."""
    mask = 0xFFFFFFFF

    def rot(x: int, k: int) -> int:
        return ((x << k) | (x >> (32 - k))) & mask

    n = len(data)
    a = b = c = (0xDEADBEEF + n + initval) & mask
    i = 0
    while n - i > 12:
        a = (a + int.from_bytes(data[i:i + 4], "little")) & mask
        b = (b + int.from_bytes(data[i + 4:i + 8], "little")) & mask
        c = (c + int.from_bytes(data[i + 8:i + 12], "little")) & mask
        a = ((a - c) & mask) ^ rot(c, 4)
        c = (c + b) & mask
        b = ((b - a) & mask) ^ rot(a, 6)
        a = (a + c) & mask
        c = ((c - b) & mask) ^ rot(b, 8)
        b = (b + a) & mask
        a = ((a - c) & mask) ^ rot(c, 16)
        c = (c + b) & mask
        b = ((b - a) & mask) ^ rot(a, 19)
        a = (a + c) & mask
        c = ((c - b) & mask) ^ rot(b, 4)
        b = (b + a) & mask
        i += 12
    if n - i == 0:
        return c
    tail = data[i:] + bytes(12 - (n - i))
    a = (a + int.from_bytes(tail[0:4], "little")) & mask
    b = (b + int.from_bytes(tail[4:8], "little")) & mask
    c = (c + int.from_bytes(tail[8:12], "little")) & mask
    c = ((c ^ b) - rot(b, 14)) & mask
    a = ((a ^ c) - rot(c, 11)) & mask
    b = ((b ^ a) - rot(a, 25)) & mask
    c = ((c ^ b) - rot(b, 16)) & mask
    a = ((a ^ c) - rot(c, 4)) & mask
    b = ((b ^ a) - rot(a, 14)) & mask
    c = ((c ^ b) - rot(b, 24)) & mask
    return c


def recover(path: str | Path) -> None:
    """Rebuild a file whose writer was killed: copy what its SWMR view holds (every committed
    epoch; rows past ``epochs_done`` are dropped) into a fresh file and swap it in."""
    path = Path(path)
    tmp = path.with_name(path.name + ".recover")
    try:
        src = h5py.File(path, "r", swmr=True, libver=LIBVER)
    except OSError as exc:
        raise FormatError(f"{str(path)!r} was left open by a writer that stopped, and cannot "
                          f"be read: {exc}", hint="the file is damaged; score again with "
                          "--force") from None
    with src, h5py.File(tmp, "w", libver=LIBVER) as dst:
        dst.attrs.update(dict(src.attrs))
        for key in src:
            if key != "runs":
                src.copy(src[key], dst, name=key)
        runs = dst.create_group("runs")
        for name, run in src["runs"].items():
            src.copy(run, runs, name=name)
            _drop_uncommitted(runs[name])
    os.replace(tmp, path)


def _drop_uncommitted(run: h5py.Group) -> None:
    _cut_rows(run, int(run.attrs["epochs_done"]))


def _cut_rows(run: h5py.Group, epochs: int) -> None:
    """Shorten every statistic and history series of ``run`` to at most ``epochs`` rows."""
    series = [run[s] for s in STAT_DTYPES if s in run]
    series += [run["history"][k] for k in HISTORY]
    for ds in series:
        if ds.shape[0] > epochs:
            ds.resize(epochs, axis=0)
