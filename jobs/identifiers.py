"""Vectorised GB 32100-2015 check of unified social credit codes, for millions of rows.

python-stdnum's ``stdnum.cn.uscc`` is the reference implementation; calling it per value costs
about 20 microseconds (most of it in cleaning the input), which dominates validation of large
tables. This module applies the same rule to whole Arrow arrays with NumPy and is tested to
agree with stdnum on generated and corrupted codes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], np.int64)
_VALUE = np.full(256, -1, np.int64)
_VALUE[np.frombuffer(ALPHABET.encode(), np.uint8)] = np.arange(len(ALPHABET))


def uscc_valid(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Boolean mask: 18 characters, 8 digits, then the alphabet, and a correct check digit.

    Values must already be compact (no spaces, upper case, half-width), as silver and gold
    store them: unlike ``stdnum.cn.uscc.is_valid``, nothing is cleaned first.
    """
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    array = pc.cast(array, pa.string())
    result = np.zeros(len(array), dtype=bool)
    candidates = pc.and_(
        pc.fill_null(pc.equal(pc.utf8_length(array), 18), False),
        pc.fill_null(pc.string_is_ascii(array), False),
    )
    index = np.flatnonzero(candidates.to_numpy(zero_copy_only=False))
    if index.size == 0:
        return result
    text = pc.take(array, pa.array(index)).to_numpy(zero_copy_only=False).astype("S18")
    codes = _VALUE[np.frombuffer(text.tobytes(), np.uint8).reshape(-1, 18)]
    digits_first = (codes[:, :8] >= 0).all(axis=1) & (codes[:, :8] <= 9).all(axis=1)
    in_alphabet = (codes >= 0).all(axis=1)
    check = (31 - (codes[:, :17] * WEIGHTS).sum(axis=1) % 31) % 31
    result[index] = digits_first & in_alphabet & (check == codes[:, 17])
    return result
