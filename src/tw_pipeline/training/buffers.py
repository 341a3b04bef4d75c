"""NumPy arrays that TensorFlow can take over without copying them.

TensorFlow's CPU kernels require tensor memory aligned to 64 bytes, while
NumPy aligns its arrays to 16. Handing NumPy memory to TensorFlow therefore
means a copy, and ``tf.constant`` in fact holds two while it converts, so a
fold's training inputs would cost three times their size at the moment
training starts, and TensorFlow's allocator keeps what it once took. Arrays
made by :func:`aligned_empty` are shared instead (see ``training.loop``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["TENSOR_ALIGNMENT", "aligned_empty", "is_aligned"]

# Bytes; the alignment TensorFlow checks before a kernel reads a tensor.
TENSOR_ALIGNMENT = 64


def aligned_empty(shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """An uninitialised C-ordered array whose data starts on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(size + TENSOR_ALIGNMENT, dtype=np.uint8)
    offset = -raw.ctypes.data % TENSOR_ALIGNMENT
    return raw[offset : offset + size].view(dtype).reshape(shape)


def is_aligned(array: np.ndarray) -> bool:
    """Whether TensorFlow can use ``array``'s memory as it is."""
    return bool(
        array.flags.c_contiguous and array.ctypes.data % TENSOR_ALIGNMENT == 0
    )
