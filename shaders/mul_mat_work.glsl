// The work of one mul_mat workgroup (mul_mat.comp and mul_mat_row.comp; MODE as there): where the
// weights are (wbase) and which tokens it serves, nt <= NT of them (x rows and y rows). Returns
// false when there is nothing to compute. MODE 1: emptySlot is set for an empty slot (expert -1),
// whose output rows the caller zeroes. Needs p (MatMulPush), NT and the Ints buffer reference.
bool mulMatWork(out uint64_t wbase, out uint nt, out uint xrow[NT], out uint yrow[NT], out bool emptySlot) {
    wbase = p.w;
    nt = 0u;
    emptySlot = false;
#if MODE == 0
    const uint t0 = gl_WorkGroupID.y * NT;
    for (uint t = 0; t < NT; ++t) {
        xrow[t] = t0 + t;
        yrow[t] = t0 + t;
    }
    nt = min(NT, p.nTok - min(t0, p.nTok));
#elif MODE == 1
    const uint ts = gl_WorkGroupID.y;  // token*k + slot
    int e = Ints(p.ids).v[ts];
    xrow[0] = (p.flags & FLAG_X_PER_SLOT) != 0u ? ts : ts / p.k;
    yrow[0] = ts;
    if (e < 0) {
        emptySlot = true;
        return false;
    }
    if (p.slotTable != 0ul) {
        e = Ints(p.slotTable).v[e];
        if (e < 0) return false;  // computed in another pass of the expert cache
    }
    wbase += uint64_t(e) * p.expertStride;
    nt = 1u;
#else
    const uint e = gl_WorkGroupID.y;
    Ints G = Ints(p.groups);
    const uint count = uint(G.v[e]);
    const uint first = gl_WorkGroupID.z * NT;
    if (first >= count) return false;
    const uint off = uint(G.v[p.nExpert + e]);
    nt = min(NT, count - first);
    uint slot = e;
    if (p.slotTable != 0ul) {
        const int s = Ints(p.slotTable).v[e];
        if (s < 0) return false;  // not resident in this pass of the expert cache
        slot = uint(s);
    }
    for (uint t = 0; t < NT; ++t) {
        const uint ts = uint(G.v[2u * p.nExpert + off + first + min(t, nt - 1u)]);  // token*k + slot
        xrow[t] = (p.flags & FLAG_X_PER_SLOT) != 0u ? ts : ts / p.k;
        yrow[t] = ts;
    }
    wbase += uint64_t(slot) * p.expertStride;
#endif
    return nt != 0u;
}
