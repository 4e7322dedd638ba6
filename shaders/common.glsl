// Shared helpers for rmvk's compute kernels.
#ifndef RMVK_COMMON_GLSL
#define RMVK_COMMON_GLSL
#extension GL_EXT_control_flow_attributes : enable

// Every kernel addresses its buffers as (binding, element offset): the host binds a range whose
// start is aligned to minStorageBufferOffsetAlignment and passes the remaining offset in
// elements, so tensors larger than maxStorageBufferRange can be processed slice by slice.

float apply_relu(float v, bool relu) {
    return relu ? max(v, 0.0) : v;
}

// 2-D dispatch index for grids wider than maxComputeWorkGroupCount[0].
uint flat_group_id() {
    return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
}

#endif
