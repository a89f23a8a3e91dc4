"""Reader for bible-kjv-text's /usr/lib/bible.data (the "EC02" windowed LZW format).

The file holds a 92-byte header, a table of window offsets, and the text cut into
fixed-size windows, each compressed independently with classic Unix `compress` LZW
(magic 1f 9d, block mode, up to 16-bit codes). Written from the format as observed.
"""
import struct


def _lzw_window(data, maxbits, block_mode):
    """Decode one independently compressed LZW window (codes packed LSB first,
    read in groups of n_bits bytes; a group is abandoned when the code width changes)."""
    out = bytearray()
    prefix = list(range(256)) + [0] * ((1 << maxbits) - 256)
    suffix = bytes(range(256)) + bytes((1 << maxbits) - 256)
    suffix = bytearray(suffix)
    maxmaxcode = 1 << maxbits
    first_free = 257 if block_mode else 256
    n_bits = 9
    maxcode = (1 << n_bits) - 1
    free_ent = first_free
    pos = 0  # byte position of the current group
    n = len(data)
    group_bits = 0
    group_val = 0
    bit_off = 0
    clear_flag = False

    def refill():
        nonlocal pos, group_bits, group_val, bit_off
        size = min(n_bits, n - pos)
        if size <= 0:
            return False
        group_val = int.from_bytes(data[pos:pos + size], "little")
        pos += size
        group_bits = size * 8 - (n_bits - 1)
        bit_off = 0
        return True

    def getcode():
        nonlocal n_bits, maxcode, clear_flag, bit_off
        if clear_flag or bit_off >= group_bits or free_ent > maxcode:
            if free_ent > maxcode:
                n_bits += 1
                maxcode = maxmaxcode if n_bits == maxbits else (1 << n_bits) - 1
            if clear_flag:
                n_bits = 9
                maxcode = (1 << n_bits) - 1
                clear_flag = False
            if not refill():
                return -1
        code = (group_val >> bit_off) & ((1 << n_bits) - 1)
        bit_off += n_bits
        return code

    oldcode = getcode()
    if oldcode < 0:
        return bytes(out)
    finchar = oldcode
    out.append(finchar)
    while True:
        code = getcode()
        if code < 0:
            break
        if code == 256 and block_mode:
            free_ent = first_free - 1
            clear_flag = True
            code = getcode()
            if code < 0:
                break
        incode = code
        stack = bytearray()
        if code >= free_ent:
            stack.append(finchar)
            code = oldcode
        while code >= 256:
            stack.append(suffix[code])
            code = prefix[code]
        finchar = suffix[code]
        stack.append(finchar)
        stack.reverse()
        out += stack
        if free_ent < maxmaxcode:
            prefix[free_ent] = oldcode
            suffix[free_ent] = finchar
            free_ent += 1
        oldcode = incode
    return bytes(out)


def read_bible(path="/usr/lib/bible.data"):
    raw = open(path, "rb").read()
    if not raw.startswith(b"EC02"):
        raise ValueError("not an EC02 bible data file")
    wsize, wnum = struct.unpack(">II", raw[0x54:0x5C])
    offsets = struct.unpack(">%dI" % (wnum + 1), raw[0x5C:0x5C + 4 * (wnum + 1)])
    hdr = 0x5C + 4 * (wnum + 1)
    if raw[hdr:hdr + 2] != b"\x1f\x9d":
        raise ValueError("missing LZW magic")
    flags = raw[hdr + 2]
    maxbits, block_mode = flags & 0x1F, bool(flags & 0x80)
    text = bytearray()
    for w in range(wnum):
        chunk = raw[offsets[w]:offsets[w + 1]]
        text += _lzw_window(chunk, maxbits, block_mode)
    return bytes(text)


if __name__ == "__main__":
    t = read_bible()
    print(len(t))
    print(t[:600].decode("latin-1"))
    print(t[65500:65700].decode("latin-1"))
    print(t[-300:].decode("latin-1"))
