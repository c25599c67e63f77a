#pragma once
// Patch embedding (SPEC 1): zero-pad the image at the bottom/right to a
// multiple of the patch size, then a stride = kernel = p convolution, written
// as im2col (patches) followed by a linear layer.
#include "vrwkv/core/backend.hpp"
#include "vrwkv/core/tensor_view.hpp"

namespace vrwkv {

struct patch_grid {
    index_t height = 0, width = 0;  // in patches
    index_t tokens() const { return height * width; }
};

inline patch_grid patch_grid_for(index_t image_height, index_t image_width, index_t patch) {
    require(patch >= 1, "patch size must be at least 1");
    require(image_height >= 1 && image_width >= 1, "image must be at least 1x1 pixels, got " +
                                                        std::to_string(image_height) + "x" +
                                                        std::to_string(image_width));
    return {(image_height + patch - 1) / patch, (image_width + patch - 1) / patch};
}

struct im2col_params {
    index_t batch = 0, channels = 0, height = 0, width = 0;  // image
    index_t patch = 0;
    patch_grid grid;
};

// Writes patches (B, h*w, channels*p*p), the row order of the conv weight
// (C_out, channels, p, p); out-of-image pixels read as zero.
// static void run(executor<B>&, const im2col_params&, const T* image, T* patches)
template <class Backend> struct im2col_impl;

template <class T, class Backend>
im2col_params im2col(executor<Backend>& ex, tensor_view<const T, Backend> image, index_t patch,
                     tensor_view<T, Backend> patches) {
    require(image.rank() == 4, "patch_embed: image must be (B, 3, H, W), got " + image.dims().str());
    require_contiguous(image, "patch_embed: image");
    im2col_params p{image.size(0), image.size(1), image.size(2), image.size(3), patch,
                    patch_grid_for(image.size(2), image.size(3), patch)};
    require_shape(patches.dims(), shape{p.batch, p.grid.tokens(), p.channels * patch * patch},
                  "patch_embed: patch buffer");
    im2col_impl<Backend>::run(ex, p, image.data(), patches.data());
    return p;
}

}  // namespace vrwkv
