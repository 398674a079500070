"""Subtractive ordered dither for the INT8 activations of a Q/DQ graph.

Why: in the flat regions of a denoised image the decoder's activations are nearly constant over
many pixels, so rounding them to the int8 grid makes the *same* error over the whole region. The
next convs sum those errors coherently into a low-frequency colour shift that can point the same
way as the float model's own error: on polyu-dev that, not the size of the int8 step, made the
worst images' drops (printer_14: 0.33 dB, with only 0.30 grey RMS of INT8 error; the drop moved
between 0.10 and 0.33 dB when only one tensor's scale was changed by x0.8..x1.6).

What: each quantized activation tensor ``x`` (scale ``s``) is quantized as ``Q(x + d)`` where
``d`` is a fixed pattern in (-s/2, s/2), the same for every channel: 4x4 Bayer blocks whose levels
are shifted by a random offset per block (``unit_pattern``), a 64x64 tile repeated over the image.
The rounding error of ``x + d`` is then uniform and independent of ``x`` (subtractive dither,
Schuchman's condition holds for a pattern covering one step), so flat regions no longer share one
error. The pattern is removed after the int8 conv, exactly and in float:

    Conv_int8(Q(x + d)) - Conv(d, W)        (Conv is linear; the pattern is zero-padded like x)

and because ``d`` is one channel, ``Conv(d, W) = Conv(d, sum_c W[:, c])`` is a 1-input-channel conv:
under 2% of the int8 conv's multiply-accumulates. The weights used are the int8 weights'
dequantized values, so the subtraction matches what the int8 conv added.

The pattern map is built at run time from the tensor's shape (Shape, Tile, Slice), so the graph
keeps its dynamic height and width. The image tensors (scale 1/255, exact) are never dithered.
"""

from __future__ import annotations

import numpy as np

from .graph import array, attr, consumers, drop_unused_initializers, initializers, set_array, spatial_scales

BAYER4 = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], np.float32)
TILE = 64  # the pattern's period in pixels


def unit_pattern(tile: int = TILE, seed: int = 0) -> np.ndarray:
    """The dither in units of one int8 step: 16 levels centred on 0, inside (-1/2, 1/2).

    Each 4x4 block is the Bayer matrix with its levels shifted by a block's own random offset (mod
    16). The shift keeps what makes Bayer work here: every 4x4 block holds all 16 levels, and every
    2x2 sub-block four levels 4 apart (a nearest 2x upsampling makes 2x2 blocks of one value). What
    it removes is the 4x4 period: with one Bayer tile everywhere, each of the 16 phases kept a mean
    error of its own over flat regions, a faint fixed texture (vertical stripes in the INT8 - float
    difference of printer_14); with the offsets varying from block to block, that becomes noise."""
    if tile % 4:
        raise ValueError(f"dither tile {tile}: expected a multiple of 4")
    n = tile // 4
    offsets = np.random.default_rng(seed).integers(0, 16, size=(n, n))
    levels = (BAYER4[None, :, None, :] + offsets[:, None, :, None]) % 16  # (block y, y, block x, x)
    return ((levels.reshape(tile, tile) + 0.5) / 16.0 - 0.5).astype(np.float32)

DITHER_MODES = ("auto", "last", "decoder", "all", "none")
UPSAMPLING_OPS = {"Resize", "Upsample", "DepthToSpace", "ConvTranspose"}


def resolve_mode(mode: str, target: str, model_kind: str = "student") -> str:
    """``auto`` -> ``last`` on CPU targets, ``none`` for ``gpu``: the dithered graph ran on ONNX
    Runtime and OpenVINO only (TensorRT could not be installed where it was made). Teachers are
    never dithered: the dither exists for a student's decoder, and on an AT-BSN teacher (its finest
    tensors come after the blind-spot branches) OpenVINO refused the pattern's shape arithmetic,
    then, with that worked around, failed on a non-square frame."""
    from .errors import ExportError

    m = (mode or "auto").lower()
    if m not in DITHER_MODES:
        raise ExportError(f"--dither {mode!r}: expected one of {', '.join(DITHER_MODES)}")
    if model_kind == "teacher":
        if m not in ("auto", "none"):
            raise ExportError(f"--dither {m}: the dither is for a student's decoder; a teacher is quantized "
                              "without it (--dither none)")
        return "none"
    if m == "auto":
        return "none" if target == "gpu" else "last"
    return m


def decoder_tensors(model) -> set[str]:
    """Tensors computed from an upsampled one: a UNet's decoder. Its features are the denoised,
    smooth ones; the encoder's still carry the frame's own noise, which dithers their rounding
    already (dithering them as well only added noise: export/README.md, "Dithered rounding")."""
    out: set[str] = set()
    for n in model.graph.node:  # ONNX graphs are topologically sorted
        if n.op_type in UPSAMPLING_OPS or any(t in out for t in n.input):
            out.update(n.output)
    return out


def select(model, tensors, mode: str) -> list[str]:
    """Which of ``tensors`` (rounded activations) to dither: ``all``; ``decoder`` (downstream of an
    upsampling op); ``last`` (the decoder's tensors at its finest level, the resolution of its
    last convs: where features are smoothest and nearest the output); ``none``."""
    ts = set(tensors)
    if mode == "none":
        return []
    if mode in ("decoder", "last"):
        ts &= decoder_tensors(model)
    if mode == "last" and ts:
        sc = spatial_scales(model)
        finest = max(sc.get(t, 0.0) for t in ts)
        ts = {t for t in ts if sc.get(t) == finest}
    return sorted(ts)


def compensation_hosts(model, tensors, mode: str) -> set[str]:
    """The float convs ``add_dither`` will give a compensation channel: the sibling summed with each
    conv that reads one of ``tensors`` that ``mode`` dithers (``_float_sibling``). quantize.py keeps
    them float for that, which costs nothing, where in int8 the compensation needs a conv of its own."""
    inits, cons = initializers(model), consumers(model)
    dithered = set(select(model, tensors, mode))
    sibs = (_float_sibling(model, n, cons, inits) for n in model.graph.node if n.op_type == "Conv" and n.input[0] in dithered)
    return {s.name for s in sibs if s is not None}


def dither_tensors(model, kinds: dict[str, str], mode: str = "last") -> list[str]:
    """The Q/DQ ``model``'s activation tensors to dither: those with a QuantizeLinear of a rounded
    kind (s8, u8: not the exact image), chosen by ``mode`` (``select``)."""
    return select(model, {n.input[0] for n in model.graph.node
                          if n.op_type == "QuantizeLinear" and kinds.get(n.input[0], "image") != "image"}, mode)


def add_dither(model, tensors: list[str]):
    """Return a copy of the Q/DQ ``model`` with subtractive ordered dither on ``tensors``."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = initializers(m)
    cons = consumers(m)
    before: dict[str, list] = {}  # node output -> nodes to insert before the node that reads it
    after: dict[str, list] = {}   # conv output -> nodes to insert right after that conv
    renames: dict[int, tuple[int, str]] = {}
    consts = []

    def const(name, arr):
        consts.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    for t in tensors:
        q = next(n for n in m.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == t)
        scale = float(array(inits[q.input[1]]))
        p = f"{t}_dither"
        nodes = _pattern_nodes(t, p, (unit_pattern() * scale)[None, None].astype(np.float32), const) + [
            helper.make_node("Add", [t, p], [f"{t}_dithered"], name=f"{p}_Add"),
        ]
        before.setdefault(q.name, []).extend(nodes)
        renames[id(q)] = (0, f"{t}_dithered")
        dq = next(n for n, _ in cons[q.output[0]] if n.op_type == "DequantizeLinear")
        for conv, idx in cons.get(dq.output[0], []):
            if conv.op_type != "Conv" or idx != 0:
                raise ValueError(f"dither: {dq.output[0]} feeds {conv.op_type} {conv.name}, expected only convs")
            w = _dequantized_weight(m, conv.input[1], inits)
            if attr(conv, "group", 1) != 1:
                raise ValueError(f"dither: grouped conv {conv.name} is not supported")
            w_sum = -w.sum(axis=1, keepdims=True).astype(np.float32)
            sibling = _float_sibling(m, conv, cons, inits)
            if sibling is not None:
                # Conv(features) + Conv(image) (export/rewrites.split_input_convs): the pattern becomes one
                # more input channel of the float image conv, so no full-size sum is added.
                sib_w = array(inits[sibling.input[1]])
                sibling.input[0] = _concat_input(sibling, p, before)
                sibling.input[1] = const(f"{sibling.name}_dither_w", np.concatenate([sib_w, w_sum], axis=1).astype(np.float32))
                continue
            out = conv.output[0]
            comp = helper.make_node("Conv", [p, const(f"{conv.name}_dither_w", w_sum)], [f"{out}_undither"],
                                    name=f"{conv.name}_undither")
            comp.attribute.extend([a for a in conv.attribute if a.name != "group"])
            add = helper.make_node("Add", [f"{out}_pre_undither", f"{out}_undither"], [out], name=f"{conv.name}_undither_Add")
            after.setdefault(out, []).extend([comp, add])

    new = []
    for n in m.graph.node:
        new.extend(before.get(n.name, []))
        if id(n) in renames:
            i, name = renames[id(n)]
            n.input[i] = name
        if n.op_type == "Conv" and n.output[0] in after:
            out = n.output[0]
            n.output[0] = f"{out}_pre_undither"
            new.append(n)
            new.extend(after[out])
            continue
        new.append(n)
    del m.graph.node[:]
    m.graph.node.extend(new)
    m.graph.initializer.extend(consts)
    drop_unused_initializers(m)  # the float image conv's weight before it took the pattern channel
    onnx.checker.check_model(m)
    return m


def _pattern_nodes(t: str, p: str, tile: np.ndarray, const) -> list:
    """Nodes writing ``p``: ``tile`` (1 x 1 x TILE x TILE) repeated over the height and width of ``t``,
    one channel per image (N x 1 x H x W), built from ``t``'s shape so that the graph stays dynamic."""
    from onnx import helper

    return [
        helper.make_node("Shape", [t], [f"{p}_hw"], name=f"{p}_Shape", start=2),
        # reps = ceil(hw / TILE)
        helper.make_node("Add", [f"{p}_hw", const(f"{p}_tile_m1", np.array([TILE - 1] * 2, np.int64))], [f"{p}_hw_up"],
                         name=f"{p}_AddTile"),
        helper.make_node("Div", [f"{p}_hw_up", const(f"{p}_tile_hw", np.array([TILE] * 2, np.int64))], [f"{p}_reps_hw"],
                         name=f"{p}_Div"),
        # batch N: the pattern also becomes an input channel of a conv (add_dither, add_concat_dither)
        helper.make_node("Shape", [t], [f"{p}_n"], name=f"{p}_ShapeN", end=1),
        helper.make_node("Concat", [f"{p}_n", const(f"{p}_one", np.array([1], np.int64)), f"{p}_reps_hw"], [f"{p}_reps"],
                         name=f"{p}_Reps", axis=0),
        helper.make_node("Tile", [const(f"{p}_tile", tile), f"{p}_reps"], [f"{p}_tiled"], name=f"{p}_Tile"),
        helper.make_node("Slice", [f"{p}_tiled", const(f"{p}_zero_zero", np.array([0, 0], np.int64)), f"{p}_hw",
                                   const(f"{p}_axes", np.array([2, 3], np.int64))], [p], name=f"{p}_Slice"),
    ]


def _float_sibling(m, conv, cons, inits):
    """The float conv whose output is added to ``conv``'s (same kernel and attributes), or None."""
    users = cons.get(conv.output[0], [])
    if len(users) != 1 or users[0][0].op_type != "Add":
        return None
    add = users[0][0]
    other = add.input[1 - users[0][1]]
    prod = next((n for n in m.graph.node if other in n.output), None)
    if prod is None or prod.op_type != "Conv" or prod.input[1] not in inits:
        return None
    same = {a.name: a for a in conv.attribute if a.name != "group"} == {a.name: a for a in prod.attribute if a.name != "group"}
    same_kernel = _shape_of(m, conv.input[1], inits)[2:] == list(inits[prod.input[1]].dims[2:])
    return prod if same and same_kernel and attr(prod, "group", 1) == 1 else None


def _shape_of(m, name, inits):
    if name in inits:
        return list(inits[name].dims)
    dq = next(n for n in m.graph.node if n.output[0] == name)
    return list(inits[dq.input[0]].dims)


def _concat_input(sibling, pattern: str, before: dict) -> str:
    from onnx import helper

    out = f"{sibling.name}_with_dither"
    before.setdefault(sibling.name, []).append(
        helper.make_node("Concat", [sibling.input[0], pattern], [out], name=f"{sibling.name}_dither_Concat", axis=1))
    return out


def _dequantized_weight(m, name: str, inits) -> np.ndarray:
    if name in inits:
        return array(inits[name]).astype(np.float64)
    dq = next(n for n in m.graph.node if n.output[0] == name)
    codes = array(inits[dq.input[0]]).astype(np.float64)
    scale = array(inits[dq.input[1]]).astype(np.float64)
    return codes * scale.reshape(-1, *([1] * (codes.ndim - 1)))


def add_concat_dither(model, convs: list[str]) -> list[str]:
    """Subtractive dither for the image concats of ``--image-convs concat`` (export/rewrites.py
    ``shift_image_concats``), after ``qdq.hoist_qdq``: each int8 feature map that reaches one of ``convs``
    through a nearest upsampling is dithered *before* it, at its own (half) resolution, so that the
    upsampling still runs on int8 codes: ``up(Q(x + d))``, the pattern constant over each 2x2 block at
    full resolution. The pattern is removed inside the int8 conv itself: one more concat channel holding
    it as exact signed codes (``m * 32 * d / s`` at scale 1/255, built from the image so that OpenVINO
    does not fold it away with its quantizer, like the constant channel of ``shift_image_concats``) and a
    weight column ``-sum over feature columns of W / (32 m)`` on the conv's own int8 grid. Exact up to
    that column's rounding. Returns the dithered tensors. Edits ``model`` in place."""
    from onnx import helper, numpy_helper

    from .contract import INPUT_NAME

    inits, prod, cons = initializers(model), {o: n for n in model.graph.node for o in n.output}, consumers(model)
    consts, before, done = [], {}, []

    def const(name, arr):
        consts.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def dq_of(t):
        n = prod.get(t)
        return n if n is not None and n.op_type == "DequantizeLinear" else None

    for conv in [n for n in model.graph.node if n.op_type == "Conv" and n.name in set(convs)]:
        cat = prod.get(conv.input[0])
        wdq = dq_of(conv.input[1])
        if cat is None or cat.op_type != "Concat" or wdq is None:
            continue
        codes_name, wscale_name = wdq.input[0], wdq.input[1]
        codes, wscale = array(inits[codes_name]).astype(np.int64), array(inits[wscale_name]).astype(np.float64)
        top = 63 if int(np.abs(codes).max()) <= 63 else 127
        w = codes * wscale[:, None, None, None]
        off, cols = 0, []
        for t in list(cat.input):
            c_in = None
            up = prod.get(t)
            feat_dq = dq_of(up.input[0]) if up is not None and up.op_type == "Resize" else None
            q = prod.get(feat_dq.input[0]) if feat_dq is not None else None
            dq_t = dq_of(t)
            width = _concat_input_width(model, t, inits, w.shape[1] - off, cat, off)
            if q is not None and q.op_type == "QuantizeLinear" and q.input[0] not in inits:
                cols.append((q, off, width))
            c_in = width
            off += c_in
            _ = dq_t
        for q, a, b in [(q, a, a + n) for q, a, n in cols]:
            x = q.input[0]
            s = float(array(inits[q.input[1]]))
            w_sum = w[:, a:b].sum(axis=1, keepdims=True)  # (O, 1, kh, kw)
            # the smallest code multiplier m whose column fits the conv's grid (codes of the pattern: (2j - 15) m)
            need = np.abs(w_sum * s * 255 / 32) / (top * wscale[:, None, None, None])
            m = int(min(8, max(1, np.ceil(need.max()))))
            col = -w_sum * s * 255 / (32 * m)
            col_codes = np.clip(np.rint(col / wscale[:, None, None, None]), -top, top).astype(np.int8)
            p = f"{x}_dither"
            unit = unit_pattern()[None, None]
            nodes = _pattern_nodes(x, p, (unit * s).astype(np.float32), const) + [
                helper.make_node("Add", [x, p], [f"{x}_dithered"], name=f"{p}_Add")]
            q.input[0] = f"{x}_dithered"
            before.setdefault(q.name, []).extend(nodes)
            # the full-resolution channel: the same tile, 2x upsampled, as codes (2j - 15) m at scale 1/255
            full = (np.kron(unit[0, 0] * 32 * m, np.ones((2, 2), np.float32)) / 255)[None, None].astype(np.float32)
            pc = f"{x}_dither_channel"
            from .rewrites import IMAGE_ZEROS, image_zeros_nodes

            # + zeros computed from the image: a constant channel would be folded by OpenVINO with its quantizer
            ch_nodes = image_zeros_nodes(model) + _pattern_nodes(INPUT_NAME, f"{pc}_const", full, const) + [
                helper.make_node("Add", [f"{pc}_const", IMAGE_ZEROS], [pc], name=f"{pc}_Add")]
            # quantized like the concat's other inputs (same scale and zero point: one int8 concat)
            other = next(dq_of(t) for t in cat.input if dq_of(t) is not None)
            ch_nodes += [helper.make_node("QuantizeLinear", [pc, *other.input[1:]], [f"{pc}_q"], name=f"{pc}_QuantizeLinear"),
                         helper.make_node("DequantizeLinear", [f"{pc}_q", *other.input[1:]], [f"{pc}_dq"], name=f"{pc}_DequantizeLinear")]
            before.setdefault(cat.name, []).extend(ch_nodes)
            cat.input.append(f"{pc}_dq")
            codes = np.concatenate([codes, col_codes.astype(np.int64)], axis=1)
            done.append(x)
        set_array(model, codes_name, codes.astype(np.int8))
    nodes = []
    for n in model.graph.node:
        nodes.extend(before.get(n.name, []))
        nodes.append(n)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    model.graph.initializer.extend(consts)
    return done


def _concat_input_width(model, t, inits, rest, cat, off) -> int:
    """Channels of one concat input: from the channel counts (features, image) or 1 (the constant channels)."""
    from .graph import channel_counts

    ch = channel_counts(model)
    if t in ch:
        return ch[t]
    src = t
    prod = {o: n for n in model.graph.node for o in n.output}
    while src in prod and prod[src].op_type in ("DequantizeLinear", "QuantizeLinear", "Resize", "Sub"):
        src = prod[src].input[0]
        if src in ch:
            return ch[src]
    return 1
