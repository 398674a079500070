"""Exact float rewrites of a conv graph that the INT8 recipe makes before and after quantizing.

* ``split_input_convs``: a Conv fed by Concat(features, network input) becomes
  Conv(features) + Conv(input) (exact: convolution is linear in its input channels), so the
  image can be quantized on its own (or stay float) while the wide feature part runs in int8.
* ``split_narrow_convs_into_taps`` / ``pad_output_channels``: a float conv with under 8 outputs
  rewritten for kernels that block output channels by 8 (recipe step 9, export/quantize.py).

Each edits the model in place and returns the names of the convs it rewrote.
"""

from __future__ import annotations

import numpy as np

from .contract import INPUT_NAME
from .graph import (array, attr, channel_counts, consumers, conv_nodes, drop_unused_initializers, initializers,
                    producers, set_array)


def split_input_convs(model) -> list[str]:
    """Split every Conv(Concat(..., input, ...)) into a feature conv + an input conv; returns the input convs' names."""
    import onnx
    from onnx import helper

    inits = initializers(model)
    prod = producers(model)
    cons = consumers(model)
    channels = channel_counts(model)
    made = []
    for conv in list(conv_nodes(model)):
        cat = prod.get(conv.input[0])
        if cat is None or cat.op_type != "Concat" or INPUT_NAME not in cat.input:
            continue
        if len(cons.get(cat.output[0], [])) != 1:
            continue
        W = array(inits[conv.input[1]])
        offs, o = [], 0
        for t in cat.input:
            offs.append((t, o, o + channels[t]))
            o += channels[t]
        if o != W.shape[1]:
            continue
        feat = [(t, a, b) for t, a, b in offs if t != INPUT_NAME]
        img = [(t, a, b) for t, a, b in offs if t == INPUT_NAME]
        w_feat = np.concatenate([W[:, a:b] for _, a, b in feat], axis=1)
        w_img = np.concatenate([W[:, a:b] for _, a, b in img], axis=1)
        base = conv.name
        attrs = list(conv.attribute)
        feat_in = feat[0][0] if len(feat) == 1 else cat.output[0]
        if len(feat) > 1:
            del cat.input[:]
            cat.input.extend([t for t, _, _ in feat])
        set_array(model, conv.input[1] + ".features", w_feat.astype(np.float32))
        set_array(model, conv.input[1] + ".input", w_img.astype(np.float32))
        out = conv.output[0]
        c_feat = helper.make_node("Conv", [feat_in, conv.input[1] + ".features"] + list(conv.input[2:3]),
                                  [out + ".features"], name=base)
        c_feat.attribute.extend(attrs)
        img_in = INPUT_NAME if len(img) == 1 else None
        c_img = helper.make_node("Conv", [img_in, conv.input[1] + ".input"], [out + ".input"], name=base + "_input_part")
        c_img.attribute.extend(attrs)
        add = helper.make_node("Add", [out + ".features", out + ".input"], [out], name=base + "_sum")
        nodes = list(model.graph.node)
        idx = nodes.index(conv)
        new = nodes[:idx] + [c_feat, c_img, add] + nodes[idx + 1:]
        if len(feat) == 1:
            new = [n for n in new if n is not cat]
        del model.graph.node[:]
        model.graph.node.extend(new)
        made.append(c_img.name)
        inits = initializers(model)
        prod = producers(model)
        cons = consumers(model)
    drop_unused_initializers(model)
    onnx.checker.check_model(model)
    return made


def pad_output_channels(model, conv_names, multiple: int = 8) -> list[str]:
    """Give each named float conv with fewer than ``multiple`` output channels zero filters up to
    ``multiple`` and slice its output back (exact). Why: OpenVINO's CPU kernels block output channels
    by 8 on AVX2, and a 3-output conv ran at a third of their speed (student C's last conv, padded:
    its 1080p INT8 IR took 1.14 -> 1.08x NNCF's time, export/README.md). A k x k conv is better split
    into taps (``split_narrow_convs_into_taps``); this is for the narrow 1x1 ones. Returns the padded convs."""
    from onnx import helper, numpy_helper

    inits = initializers(model)
    names = set(conv_names)
    done, slices = [], {}
    for conv in [n for n in conv_nodes(model) if n.name in names]:
        if conv.input[1] not in inits or attr(conv, "group", 1) != 1:
            continue
        w = array(inits[conv.input[1]])
        if w.shape[0] >= multiple:
            continue
        pad = np.zeros((multiple,) + w.shape[1:], w.dtype)
        pad[:w.shape[0]] = w
        # new names: the exporter shares identical initializers between convs (all-zero biases)
        set_array(model, f"{conv.input[1]}_pad{multiple}", pad)
        conv.input[1] = f"{conv.input[1]}_pad{multiple}"
        if len(conv.input) > 2 and conv.input[2]:
            b = array(inits[conv.input[2]])
            set_array(model, f"{conv.input[2]}_pad{multiple}", np.concatenate([b, np.zeros(multiple - len(b), b.dtype)]))
            conv.input[2] = f"{conv.input[2]}_pad{multiple}"
        out = conv.output[0]
        conv.output[0] = f"{out}_padded"
        ranges = [f"{conv.name}_slice_{k}" for k in ("starts", "ends", "axes")]
        for name, v in zip(ranges, (0, w.shape[0], 1)):
            model.graph.initializer.append(numpy_helper.from_array(np.array([v], np.int64), name))
        slices[conv.name] = helper.make_node("Slice", [conv.output[0], *ranges], [out], name=f"{conv.name}_unpad")
        done.append(conv.name)
    if slices:  # one rebuild at the end, after every edit of the nodes above
        nodes = []
        for n in model.graph.node:
            nodes.append(n)
            if n.name in slices:
                nodes.append(slices[n.name])
        del model.graph.node[:]
        model.graph.node.extend(nodes)
        drop_unused_initializers(model)
    return done


def split_narrow_convs_into_taps(model, conv_names, max_outputs: int = 8) -> list[str]:
    """Rewrite each named float k x k conv (stride 1, no groups) with fewer than ``max_outputs``
    outputs as three convs: a 1x1 conv to one channel per (output, tap), a depthwise conv whose
    one-hot k x k kernels shift each tap into place (the original pads and dilations), and a 1x1
    conv that sums each output's taps and adds the bias. Exact up to float summation order.
    Why: OpenVINO's AVX2 f32 kernels block output channels by 8, so student C's last conv
    (96 -> 3, 3x3, kept float) either runs at a third of their speed or, padded to 8 outputs,
    does 8/3 of its work; as 27 taps it runs at a 1x1 kernel's speed on 27 of 32 lanes
    (1080p: 367 -> 193 ms, BENCHMARKS openvino-profile-taps). Returns the rewritten convs."""
    from onnx import helper

    inits = initializers(model)
    names = set(conv_names)
    done, rewrites = [], {}
    for conv in [n for n in conv_nodes(model) if n.name in names]:
        if conv.input[1] not in inits or attr(conv, "group", 1) != 1 or any(s != 1 for s in attr(conv, "strides", [1])):
            continue
        w = array(inits[conv.input[1]])
        co, ci, kh, kw = w.shape
        if co >= max_outputs or kh * kw == 1:
            continue
        taps = co * kh * kw
        shift = np.zeros((taps, 1, kh, kw), w.dtype)
        total = np.zeros((co, taps, 1, 1), w.dtype)
        for t in range(taps):  # channel t = (output c, row i, column j), as w.transpose(0, 2, 3, 1) orders them
            c, i, j = np.unravel_index(t, (co, kh, kw))
            shift[t, 0, i, j] = 1
            total[c, t] = 1
        bias = array(inits[conv.input[2]]) if len(conv.input) > 2 and conv.input[2] else np.zeros(co, w.dtype)
        pre = conv.name
        for suffix, arr in (("w", w.transpose(0, 2, 3, 1).reshape(taps, ci, 1, 1)), ("shift", shift), ("sum", total), ("b", bias)):
            set_array(model, f"{pre}_taps_{suffix}", np.ascontiguousarray(arr))
        # the depthwise conv keeps the original's pads, dilations and kernel: it places each tap as the conv did
        kept = [a for a in conv.attribute if a.name not in ("group", "strides")]
        rewrites[conv.output[0]] = [
            helper.make_node("Conv", [conv.input[0], f"{pre}_taps_w"], [f"{pre}_taps_out"], name=f"{pre}_taps"),
            helper.make_node("Conv", [f"{pre}_taps_out", f"{pre}_taps_shift"], [f"{pre}_taps_shifted"], name=f"{pre}_shift", group=taps),
            helper.make_node("Conv", [f"{pre}_taps_shifted", f"{pre}_taps_sum", f"{pre}_taps_b"], [conv.output[0]], name=f"{pre}_sum")]
        rewrites[conv.output[0]][1].attribute.extend(kept)
        done.append(conv.name)
    if rewrites:
        nodes = []
        for n in model.graph.node:
            nodes.extend(rewrites.get(n.output[0], [n]) if n.op_type == "Conv" else [n])
        del model.graph.node[:]
        model.graph.node.extend(nodes)
        drop_unused_initializers(model)
    return done


# the image's codes in a signed int8 concat: 8-bit frames k/255 shifted by 128/255 are exactly k - 128 at scale 1/255
IMAGE_SHIFT = 128.0 / 255.0
ONES_LEVEL = 127.0 / 255.0  # the border-correction channel: the largest signed code at scale 1/255


IMAGE_ZEROS = f"{INPUT_NAME}_zeros"  # N x 1 x H x W zeros computed from the image (image_zeros_nodes)
IMAGE_ZEROS_WEIGHT = "image_zeros_weight"  # int8_finetune.py leaves it alone: it must stay zero


def image_zeros_nodes(model) -> list:
    """Nodes writing ``IMAGE_ZEROS`` (none when the model has them): a 1x1 conv of the image with zero
    weights. Why computed and not a constant: OpenVINO folds a constant channel together with its
    quantizer, and a concat with an f32 input then runs in f32 (so does its conv); a Slice of the
    image ran as a reference kernel (about 3% of the frame), the conv as a fast one."""
    from onnx import helper, numpy_helper

    if any(IMAGE_ZEROS in n.output for n in model.graph.node):
        return []
    ch = next((v.type.tensor_type.shape.dim[1].dim_value for v in model.graph.input if v.name == INPUT_NAME), 0) or 3
    model.graph.initializer.append(numpy_helper.from_array(np.zeros((1, ch, 1, 1), np.float32), IMAGE_ZEROS_WEIGHT))
    return [helper.make_node("Conv", [INPUT_NAME, IMAGE_ZEROS_WEIGHT], [IMAGE_ZEROS], name="image_zeros_Conv")]


def shift_image_concats(model) -> list[str]:
    """For each Conv(Concat(features..., input)), read the image as ``input - 128/255`` plus one constant
    channel of 127/255 whose weights add the shift back (``(128/127) * sum over colours of W_image``).

    Exact in float: Conv(x - c, W) + Conv(c * 1, W) = Conv(x, W), and because the constant channel is
    zero-padded like the image, the correction is right at the borders too. Why: a signed int8 scale of
    1/255 then holds the image exactly (codes k - 128) beside features scaled to the same step, so the
    whole concat is one int8 tensor and the conv one int8 conv (OpenVINO ran a Concat of unsigned image
    codes and signed features as an f32 conv; the image split into a conv of its own wrote a 96-channel
    f32 map at full resolution). Returns the rewritten convs' names."""
    import onnx
    from onnx import helper, numpy_helper

    inits = initializers(model)
    prod = producers(model)
    cons = consumers(model)
    channels = channel_counts(model)
    todo = []
    for conv in conv_nodes(model):
        cat = prod.get(conv.input[0])
        if (cat is None or cat.op_type != "Concat" or attr(cat, "axis", 1) != 1 or INPUT_NAME not in cat.input
                or len(cons.get(cat.output[0], [])) != 1 or conv.input[1] not in inits or attr(conv, "group", 1) != 1):
            continue
        if any(t not in channels for t in cat.input):
            continue
        todo.append((conv, cat))
    if not todo:
        return []
    shifted, ones = f"{INPUT_NAME}_shifted", f"{INPUT_NAME}_ones"
    new_nodes = [helper.make_node("Sub", [INPUT_NAME, "image_shift"], [shifted], name="image_shift_Sub")]
    new_nodes += image_zeros_nodes(model)
    new_nodes.append(helper.make_node("Add", [IMAGE_ZEROS, "image_ones_level"], [ones], name="image_ones_Add"))
    model.graph.initializer.extend([
        numpy_helper.from_array(np.array(IMAGE_SHIFT, np.float32), "image_shift"),
        numpy_helper.from_array(np.array(ONES_LEVEL, np.float32), "image_ones_level")])
    done = []
    for conv, cat in todo:
        W = array(inits[conv.input[1]])
        offs, o = {}, 0
        for t in cat.input:
            offs.setdefault(t, []).append((o, o + channels[t]))
            o += channels[t]
        if o != W.shape[1]:
            continue
        w_ones = sum(W[:, a:b].sum(axis=1, keepdims=True) for a, b in offs[INPUT_NAME]) * (IMAGE_SHIFT / ONES_LEVEL)
        for i, t in enumerate(cat.input):
            if t == INPUT_NAME:
                cat.input[i] = shifted
        cat.input.append(ones)
        stale = [v for v in model.graph.value_info if v.name == cat.output[0]]  # its channel count changed
        for v in stale:
            model.graph.value_info.remove(v)
        set_array(model, f"{conv.input[1]}_shifted_image", np.concatenate([W, w_ones], axis=1).astype(np.float32))
        conv.input[1] = f"{conv.input[1]}_shifted_image"
        done.append(conv.name)
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(new_nodes + nodes)  # the new nodes read only the network input
    drop_unused_initializers(model)
    onnx.checker.check_model(model)
    return done
