# Generates pillow_cases.safetensors (read by tests/test_image.cpp) with Pillow
# and numpy: python3 pillow_cases.py OUT.safetensors
#   pre.<case>.src (H,W,3) u8, .cfg (short side, crop) i32, .crop (crop,crop,3) u8 [, .resized]
#       the evaluation pipeline: short side resize (Pillow bicubic), center crop
#   rs.<case>.src / .out  u8   plain Pillow bicubic resize to out's size
#   fl.<case>.src u8 / .out (3,H,W) f32   per-channel mode "F" bicubic resize, normalised
#   dec.<case>.bytes (N,) u8 encoded file / .rgb (H,W,3) u8 Pillow's decode, convert("RGB")
import io, sys
import numpy as np
import PIL
from PIL import Image, ImageFilter
from safetensors.numpy import save_file

BICUBIC = getattr(Image, "Resampling", Image).BICUBIC

rng = np.random.RandomState(20240531)
def source(h, w):  # half smooth gradient, half noise: exercises clamping and smooth areas
    y, x = np.mgrid[0:h, 0:w]
    smooth = np.stack([x * 255.0 / max(w - 1, 1), y * 255.0 / max(h - 1, 1), (x + y) % 256], -1)
    noise = rng.randint(0, 256, (h, w, 3))
    return np.where((x // 7 + y // 5)[..., None] % 2 == 0, smooth, noise).astype(np.uint8)

t = {}
for name, h, w, short, crop, keep in [("up_100x150", 100, 150, 256, 224, False),
        ("portrait_300x200", 300, 200, 256, 224, False), ("eq_64x90", 64, 90, 64, 56, True),
        ("portrait_200x131", 200, 131, 64, 56, True), ("landscape_130x254", 130, 254, 96, 80, True),
        ("row_1x40", 1, 40, 256, 224, False), ("col_40x1", 40, 1, 256, 224, False),
        ("tiny_3x5", 3, 5, 256, 224, False), ("tiny_5x3", 5, 3, 32, 24, True)]:
    src = source(h, w)
    nh, nw = (int(short * h / w), short) if w < h else (short, int(short * w / h))
    img = Image.fromarray(src)
    r = np.asarray(img.resize((nw, nh), BICUBIC) if (nh, nw) != (h, w) else img)
    y0, x0 = round((nh - crop) / 2), round((nw - crop) / 2)
    t[f"pre.{name}.src"] = src
    t[f"pre.{name}.cfg"] = np.array([short, crop], np.int32)
    t[f"pre.{name}.crop"] = np.ascontiguousarray(r[y0:y0 + crop, x0:x0 + crop])
    if keep:
        t[f"pre.{name}.resized"] = np.ascontiguousarray(r)

for name, (h, w), (oh, ow) in [("mixed", (37, 23), (11, 50)), ("h_only", (37, 23), (37, 60)),
        ("v_only", (37, 23), (90, 23)), ("one_pixel", (1, 1), (5, 7)), ("to_one", (50, 50), (1, 1)),
        ("strong_down", (8, 300), (8, 3))]:
    src = source(h, w)
    t[f"rs.{name}.src"] = src
    t[f"rs.{name}.out"] = np.asarray(Image.fromarray(src).resize((ow, oh), BICUBIC))

mean = np.array([123.675, 116.28, 103.53], np.float32)
std = np.array([58.395, 57.12, 57.375], np.float32)
for name, (h, w), (oh, ow) in [("up", (37, 23), (64, 48)), ("down", (100, 150), (56, 80)),
        ("tiny", (5, 3), (16, 16))]:
    src = source(h, w)
    chans = [np.asarray(Image.fromarray(src[..., c].astype(np.float32)).resize((ow, oh), BICUBIC))
             for c in range(3)]
    t[f"fl.{name}.src"] = src
    t[f"fl.{name}.out"] = np.stack([(chans[c] - mean[c]) / std[c] for c in range(3)]).astype(np.float32)

smooth = np.asarray(Image.fromarray(source(64, 96)).filter(ImageFilter.GaussianBlur(2)))
for name, img, fmt, kw in [("jpeg_q90", Image.fromarray(smooth), "JPEG", dict(quality=90)),
        ("jpeg_444", Image.fromarray(smooth), "JPEG", dict(quality=95, subsampling=0)),
        ("jpeg_progressive", Image.fromarray(smooth), "JPEG", dict(quality=90, progressive=True)),
        ("jpeg_gray", Image.fromarray(smooth[..., 0]), "JPEG", dict(quality=90)),
        ("gif", Image.fromarray(source(30, 40)).quantize(64), "GIF", {}),
        ("png_gray", Image.fromarray(source(20, 30)[..., 1]), "PNG", {}),
        ("png_rgba", Image.fromarray(np.dstack([source(20, 30), source(20, 30)[..., :1]])), "PNG", {}),
        ("png_palette", Image.fromarray(source(20, 30)).quantize(16), "PNG", {}),
        ("bmp_odd_width", Image.fromarray(source(13, 21)), "BMP", {})]:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    t[f"dec.{name}.bytes"] = np.frombuffer(buf.getvalue(), np.uint8).copy()
    t[f"dec.{name}.rgb"] = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))

save_file(t, sys.argv[1], metadata={"pillow": PIL.__version__, "numpy": np.__version__})
