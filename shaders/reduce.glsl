// Workgroup-wide sum and max over WG threads (WG: spec constant 0, a power of two), for kernels
// that reduce one row per workgroup. Every thread must call them (they barrier) and every thread
// gets the result. With SUBGROUP_REDUCE (the host picks it when DeviceCaps reports subgroup
// arithmetic) each subgroup folds first and shared memory holds one value per subgroup;
// otherwise a shared-memory tree that needs nothing beyond Vulkan 1.0.
#ifdef SUBGROUP_REDUCE
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

shared float reduceScratch[WG];

#ifdef SUBGROUP_REDUCE
float wgSum(float v) {
    v = subgroupAdd(v);
    if (subgroupElect()) reduceScratch[gl_SubgroupID] = v;
    barrier();
    float r = reduceScratch[0];
    for (uint i = 1u; i < gl_NumSubgroups; ++i) r += reduceScratch[i];
    barrier();
    return r;
}
float wgMax(float v) {
    v = subgroupMax(v);
    if (subgroupElect()) reduceScratch[gl_SubgroupID] = v;
    barrier();
    float r = reduceScratch[0];
    for (uint i = 1u; i < gl_NumSubgroups; ++i) r = max(r, reduceScratch[i]);
    barrier();
    return r;
}
#else
float wgSum(float v) {
    const uint tid = gl_LocalInvocationID.x;
    reduceScratch[tid] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) reduceScratch[tid] += reduceScratch[tid + s];
        barrier();
    }
    float r = reduceScratch[0];
    barrier();
    return r;
}
float wgMax(float v) {
    const uint tid = gl_LocalInvocationID.x;
    reduceScratch[tid] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) reduceScratch[tid] = max(reduceScratch[tid], reduceScratch[tid + s]);
        barrier();
    }
    float r = reduceScratch[0];
    barrier();
    return r;
}
#endif
