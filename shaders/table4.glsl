// table4(w): the values of a 16-entry table TABLE (iq_tables.glsl: IQ4_NL's or MXFP4's codes) for
// the 4 low nibbles of the bytes of w. The includer defines TABLE first.
// Lookups in a 16-entry table T of small signed values (iq_tables.glsl): its entries packed as
// bytes into 4 words (folded at compile time), then a select and a sign extension per value, as
// a dynamically indexed constant array is a per-lane memory loop on CPU devices (lavapipe).
#define TABLE_WORD(T, k) ((T[4 * k] & 255u) | ((T[4 * k + 1] & 255u) << 8) | ((T[4 * k + 2] & 255u) << 16) | (T[4 * k + 3] << 24))
int tableAt(uvec4 tw, uint n) {
    const uint w = n < 8u ? (n < 4u ? tw.x : tw.y) : (n < 12u ? tw.z : tw.w);
    return int(w << (24u - 8u * (n & 3u))) >> 24;
}
vec4 table4(uint w) {  // the table's values of the 4 low nibbles of w
    const uvec4 tw = uvec4(TABLE_WORD(TABLE, 0), TABLE_WORD(TABLE, 1), TABLE_WORD(TABLE, 2), TABLE_WORD(TABLE, 3));
    return vec4(float(tableAt(tw, w & 15u)), float(tableAt(tw, (w >> 8) & 15u)), float(tableAt(tw, (w >> 16) & 15u)),
                float(tableAt(tw, (w >> 24) & 15u)));
}
