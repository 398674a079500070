"""NV12/I420 in and out of one compiled OpenVINO model: the colour conversion runs inside the engine.

The denoiser takes float RGB NCHW in [0,1]; a camera pipeline carries 4:2:0 planes. Instead of
converting every frame in numpy, the artifact's graph is wrapped:

    Y [1,H,W] u8, UV [1,H/2,W/2,2] u8 (NV12) or U, V [1,H/2,W/2] u8 (I420)
      -> f32, the caps' YUV->RGB matrix on 2x2 blocks (chroma repeated over its block), clamp [0,1]
      -> pad to the engine's multiple (reflect, as frames.pad_chw) -> the denoiser
      -> crop, clamp [0,1] -> RGB->Y; 2x2 mean -> RGB->UV -> round, clamp -> u8 planes

(OpenVINO's PrePostProcessor can convert NV12 to RGB on the input side, but only with fixed
BT.601 coefficients and it has no RGB->NV12 on the output side; a few explicit ops do both ways
with the stream's own colorimetry.) The maths equals yuv.py's numpy path.
"""

from __future__ import annotations

import numpy as np

from .yuv import ColorSpace, chroma_size


def _conv1x1(ops, x, m: np.ndarray, b: np.ndarray):
    """Channel mixing: out[o] = sum_i m[o, i] * x[i] + b[o]."""
    w = ops.constant(np.ascontiguousarray(m[:, :, None, None], dtype=np.float32))
    y = ops.convolution(x, w, [1, 1], [0, 0], [0, 0], [1, 1])
    return ops.add(y, ops.constant(np.asarray(b, np.float32).reshape(1, -1, 1, 1)))


def _i64(v):
    return np.array(v, dtype=np.int64)


def wrap_yuv420(model, fmt: str, h: int, w: int, padded: tuple[int, int], cs: ColorSpace,
                input_name: str, output_name: str):
    """A new ov.Model taking and returning the planes of one ``fmt`` (NV12 | I420) frame of h x w."""
    import openvino as ov
    import openvino.opset13 as ops

    ch, cw = chroma_size(h, w)
    y_in = ops.parameter([1, h, w], ov.Type.u8, name="y")
    if fmt == "NV12":
        uv_in = ops.parameter([1, ch, cw, 2], ov.Type.u8, name="uv")
        params = [y_in, uv_in]
        uv = ops.transpose(ops.convert(uv_in, "f32"), _i64([0, 3, 1, 2]))            # 1,2,ch,cw
    elif fmt == "I420":
        u_in = ops.parameter([1, ch, cw], ov.Type.u8, name="u")
        v_in = ops.parameter([1, ch, cw], ov.Type.u8, name="v")
        params = [y_in, u_in, v_in]
        uv = ops.concat([ops.convert(u_in, "f32"), ops.convert(v_in, "f32")], 0)        # 2,ch,cw
        uv = ops.reshape(uv, _i64([1, 2, ch, cw]), False)
    else:
        raise ValueError(f"not a 4:2:0 format: {fmt}")
    # All colour maths at chroma resolution: Y's 2x2 blocks become 4 channels (SpaceToDepth), so
    # one 1x1 convolution 6 -> 12 gives the 3 colours of the 4 pixels of each block (Y has one
    # coefficient for R, G and B; U and V are shared by the block), and DepthToSpace puts them back.
    # (Full-resolution 3-channel ops were 2-3x slower on the CPU plugin than this.)
    m, b = cs.yuv_to_rgb()
    wt = np.zeros((12, 6), np.float32)
    for c in range(3):
        for k in range(4):
            wt[c * 4 + k, k] = m[c, 0]
            wt[c * 4 + k, 4:] = m[c, 1:]
    yf = ops.reshape(ops.convert(y_in, "f32"), _i64([1, 1, h, w]), False)
    if (2 * ch, 2 * cw) != (h, w):
        yf = ops.pad(yf, _i64([0, 0, 0, 0]), _i64([0, 0, 2 * ch - h, 2 * cw - w]), "edge")
    blocks = ops.concat([ops.space_to_depth(yf, "depth_first", 2), uv], 1)               # 1,6,ch,cw
    rgb = ops.depth_to_space(_conv1x1(ops, blocks, wt, np.repeat(b, 4)), "depth_first", 2)   # 1,3,2ch,2cw
    if (2 * ch, 2 * cw) != (h, w):
        rgb = ops.slice(rgb, _i64([0, 0]), _i64([h, w]), _i64([1, 1]), _i64([2, 3]))
    rgb = ops.clamp(rgb, 0.0, 1.0)
    ph, pw = padded[0] - h, padded[1] - w
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "edge"
        rgb = ops.pad(rgb, _i64([0, 0, 0, 0]), _i64([0, 0, ph, pw]), mode)

    param = next(p for p in model.get_parameters() if input_name in p.output(0).get_names())
    for target in list(param.output(0).get_target_inputs()):
        target.replace_source_output(rgb.output(0))
    result = next(r for r in model.get_results()
                  if output_name in r.output(0).get_names() or output_name in r.input_value(0).get_names())
    out = result.input_value(0)

    out = ops.slice(out, _i64([0, 0]), _i64([h, w]), _i64([1, 1]), _i64([2, 3]))
    out = ops.clamp(out, 0.0, 1.0)
    m2, b2 = cs.rgb_to_yuv()
    # the same block trick backwards: 12 channels (3 colours x 4 pixels) -> Y of the 4 pixels, and
    # U, V of their mean (linear, so mean-then-matrix equals matrix-then-mean)
    if (2 * ch, 2 * cw) != (h, w):
        out = ops.pad(out, _i64([0, 0, 0, 0]), _i64([0, 0, 2 * ch - h, 2 * cw - w]), "edge")
    blocks = ops.space_to_depth(out, "depth_first", 2)                                     # 1,12,ch,cw
    wy, wc = np.zeros((4, 12), np.float32), np.zeros((2, 12), np.float32)
    for c in range(3):
        for k in range(4):
            wy[k, c * 4 + k] = m2[0, c]
            wc[:, c * 4 + k] = m2[1:, c] / 4
    y_out = ops.depth_to_space(_conv1x1(ops, blocks, wy, np.full(4, b2[0], np.float32)), "depth_first", 2)
    if (2 * ch, 2 * cw) != (h, w):
        y_out = ops.slice(y_out, _i64([0, 0]), _i64([h, w]), _i64([1, 1]), _i64([2, 3]))
    c_out = _conv1x1(ops, blocks, wc, b2[1:])                                              # 1,2,ch,cw

    def u8(x, shape):
        x = ops.clamp(ops.round(x, "half_to_even"), 0.0, 255.0)
        return ops.reshape(ops.convert(x, "u8"), _i64(shape), False)

    outs = [u8(y_out, [1, h, w])]
    if fmt == "NV12":
        outs.append(u8(ops.transpose(c_out, _i64([0, 2, 3, 1])), [1, ch, cw, 2]))
    else:
        outs += [u8(ops.slice(c_out, _i64([0]), _i64([1]), _i64([1]), _i64([1])), [1, ch, cw]),
                 u8(ops.slice(c_out, _i64([1]), _i64([2]), _i64([1]), _i64([1])), [1, ch, cw])]
    names = ["y_out", "uv_out"] if fmt == "NV12" else ["y_out", "u_out", "v_out"]
    results = []
    for o, n in zip(outs, names):
        o.output(0).get_tensor().set_names({n})
        results.append(ops.result(o))
    return ov.Model(results, params, f"hushframe-{fmt.lower()}")
