"""Minimal GGUF v3 writer and reader (little-endian), written for the bundled model.

Layout: magic "GGUF", u32 version, u64 tensor_count, u64 kv_count, kv pairs, tensor infos
(name, u32 n_dims, u64 ne[n_dims] fastest-varying first, u32 ggml_type, u64 offset relative
to the data section), padding to general.alignment, then tensor data, each tensor aligned.
"""
import struct

import numpy as np

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3

# metadata value types
T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL, T_STRING, \
    T_ARRAY, T_UINT64, T_INT64, T_FLOAT64 = range(13)
_SCALAR = {T_UINT8: "<B", T_INT8: "<b", T_UINT16: "<H", T_INT16: "<h", T_UINT32: "<I",
           T_INT32: "<i", T_FLOAT32: "<f", T_BOOL: "<?", T_UINT64: "<Q", T_INT64: "<q",
           T_FLOAT64: "<d"}

# ggml tensor types used here
GGML_F32, GGML_F16 = 0, 1
_NP = {GGML_F32: np.float32, GGML_F16: np.float16}


class Val:
    """A typed metadata value: Val(T_UINT32, 5), Val(T_ARRAY, [...], elem=T_STRING)."""

    def __init__(self, vtype, value, elem=None):
        self.vtype, self.value, self.elem = vtype, value, elem


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(vtype, value, elem=None):
    if vtype == T_STRING:
        return _str(value)
    if vtype == T_ARRAY:
        out = [struct.pack("<IQ", elem, len(value))]
        if elem == T_STRING:
            out += [_str(v) for v in value]
        else:
            out.append(np.asarray(value, dtype=np.dtype(_SCALAR[elem])).tobytes())
        return b"".join(out)
    return struct.pack(_SCALAR[vtype], value)


def write_gguf(path, kvs, tensors, alignment=32):
    """kvs: list of (key, Val). tensors: list of (name, np.ndarray, ggml_type); the numpy
    shape is C-order (slowest first), so GGUF ne is the reversed shape."""
    head = [GGUF_MAGIC, struct.pack("<IQQ", GGUF_VERSION, len(tensors), len(kvs))]
    for k, v in kvs:
        head.append(_str(k) + struct.pack("<I", v.vtype) + _value(v.vtype, v.value, v.elem))
    offset = 0
    blobs = []
    for name, arr, gtype in tensors:
        data = np.ascontiguousarray(arr, dtype=_NP[gtype]).tobytes()
        ne = list(reversed(arr.shape))
        head.append(_str(name) + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}Q", *ne)
                    + struct.pack("<IQ", gtype, offset))
        blobs.append((offset, data))
        offset += len(data)
        offset += (-offset) % alignment
    header = b"".join(head)
    header += b"\0" * ((-len(header)) % alignment)
    with open(path, "wb") as f:
        f.write(header)
        pos = 0
        for off, data in blobs:
            f.write(b"\0" * (off - pos))
            f.write(data)
            pos = off + len(data)
        f.write(b"\0" * ((-pos) % alignment))


class Reader:
    """Independent re-reader: parses everything and checks structure (alignment, bounds)."""

    def __init__(self, path):
        self.buf = open(path, "rb").read()
        self.pos = 0
        if self.buf[:4] != GGUF_MAGIC:
            raise ValueError("bad magic")
        self.pos = 4
        self.version, n_tensors, n_kv = self._unpack("<IQQ")
        self.kv = {}
        self.kv_types = {}
        for _ in range(n_kv):
            key = self._string()
            (vtype,) = self._unpack("<I")
            self.kv_types[key] = vtype
            self.kv[key] = self._read_value(vtype)
        self.alignment = self.kv.get("general.alignment", 32)
        self.infos = []
        for _ in range(n_tensors):
            name = self._string()
            (nd,) = self._unpack("<I")
            ne = list(self._unpack(f"<{nd}Q"))
            gtype, off = self._unpack("<IQ")
            self.infos.append({"name": name, "ne": ne, "type": gtype, "offset": off})
        self.header_end = self.pos
        self.data_start = self.pos + (-self.pos) % self.alignment
        self.tensors = {}
        for t in self.infos:
            if t["offset"] % self.alignment:
                raise ValueError(f"{t['name']}: offset {t['offset']} not aligned")
            n = int(np.prod(t["ne"]))
            nbytes = n * np.dtype(_NP[t["type"]]).itemsize
            start = self.data_start + t["offset"]
            if start + nbytes > len(self.buf):
                raise ValueError(f"{t['name']}: data out of bounds")
            t["nbytes"] = nbytes
            self.tensors[t["name"]] = np.frombuffer(
                self.buf, dtype=_NP[t["type"]], count=n, offset=start).reshape(list(reversed(t["ne"])))
        spans = sorted((t["offset"], t["offset"] + t["nbytes"], t["name"]) for t in self.infos)
        for a, b in zip(spans, spans[1:]):
            if a[1] > b[0]:
                raise ValueError(f"tensors {a[2]} and {b[2]} overlap")

    def _unpack(self, fmt):
        vals = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return vals

    def _string(self):
        (n,) = self._unpack("<Q")
        s = self.buf[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return s

    def _read_value(self, vtype):
        if vtype == T_STRING:
            return self._string()
        if vtype == T_ARRAY:
            elem, n = self._unpack("<IQ")
            if elem == T_STRING:
                return [self._string() for _ in range(n)]
            dt = np.dtype(_SCALAR[elem])
            arr = np.frombuffer(self.buf, dtype=dt, count=n, offset=self.pos)
            self.pos += n * dt.itemsize
            return arr.tolist()
        (v,) = self._unpack(_SCALAR[vtype])
        return v
