"""Recipe tables of the method recipes, and registration of their networks.

Imported by ``recipes._load_method_sections`` before any recipe is validated. Nothing
here imports torch: the model builders import their modules when called.

How the shared tables are read per method (``method = ...`` at the top of a recipe):

==========  =====================================  ==========================================
method      [teacher] (``hushframe train``)         [distill] (``hushframe distill``)
==========  =====================================  ==========================================
atbsn       AT-BSN teacher, L1 at k_a               multi-teacher distillation over ``teachers``
aprrd       AT-BSN teacher, APR loss at k_a (9)     recharged distillation; T = ``teachers``
                                                    (j = len(teachers), k_i = 2i - 1)
bnn-lan     BNN = AT-BSN with k_a = k_b (9)         Eq. 5 student; ``teachers``/``mode`` unused
            then LAN from the ``[lan]`` table
amsnet      denoiser D_E (width/levels/stage keys)  student distilled from the AMSNet denoiser;
            + ``[amsnet]`` mask/PD settings         ``teachers``/``mode`` unused
==========  =====================================  ==========================================
"""

from __future__ import annotations

from ..models.registry import list_models, register_model
from ..recipes import TEACHER, Key, register_section


def _nonneg_num(x):
    return x >= 0


def _odd_at_least(n):
    return lambda x: x >= n and x % 2 == 1


def _stage_keys(**defaults) -> dict[str, Key]:
    """The training-loop keys of [teacher] (iterations, batch, crop, lr, ...) with other defaults."""
    names = ("iterations", "batch", "crop", "lr", "seed", "checkpoint_every", "val_every", "val_images",
             "log_every", "workers", "amp", "compile")
    out = {}
    for n in names:
        k = TEACHER[n]
        out[n] = Key(k.type, defaults.get(n, k.default), k.check, k.allowed)
    return out


APRRD = {
    "lambda": Key(float, 4.0, _nonneg_num, "a non-negative number (the paper's lambda = 4)"),
    "window": Key(int, 3, _odd_at_least(3), "an odd number >= 3 (APR window, 3 in the paper)"),
    "recharge": Key(bool, True, None, "true (recharged distillation) or false (plain squared-L1 multi-target)"),
}

BNN_LAN = {
    "sigma_window": Key(int, 7, _odd_at_least(3), "an odd number >= 3 (std window n, 7 in the paper)"),
    "low": Key(float, 1.0, _nonneg_num, "a non-negative number in 0-255 units (l = 1 in the paper)"),
    "high": Key(float, 5.0, _nonneg_num, "a non-negative number >= low, 0-255 units (u = 5 in the paper)"),
}

LAN = {
    "width": Key(int, 64, lambda v: v > 0, "a positive integer"),
    "receptive": Key(int, 3, _odd_at_least(1), "an odd number >= 1 (LAN receptive field; 3 in the paper)"),
    "blocks": Key(int, 4, lambda v: v >= 0, "a non-negative integer (1x1 channel-attention blocks)"),
    **_stage_keys(),
}


def _is_student(v):
    return v in list_models("student")


AMSNET = {
    "denoiser": Key(str, "student_c", _is_student, "a registered student: " + ", ".join(list_models("student"))),
    "train_stride": Key(int, 5, lambda v: v >= 1, "a positive integer (PD stride in training, 5)"),
    "infer_stride": Key(int, 2, lambda v: v >= 1, "a positive integer (PD stride at inference, 2)"),
    "mask_ratio": Key(float, 0.5, lambda v: 0 < v < 1, "a number strictly between 0 and 1 (0.5)"),
    "branches": Key(int, 2, lambda v: v >= 2, "an integer >= 2 (complementary masks at inference)"),
    "smooth_lambda": Key(float, 0.01, _nonneg_num, "a non-negative number (0.01)"),
    "smooth_iterations": Key(int, 0, lambda v: v >= 0, "a non-negative integer (0 = no smoothness fine-tune)"),
    "smooth_lr": Key(float, 1e-5, lambda v: v > 0, "a positive number"),
}

register_section("aprrd", APRRD)
register_section("bnn-lan", BNN_LAN)
register_section("lan", LAN)
register_section("amsnet", AMSNET)


@register_model("lan", kind="helper")
def _lan(width: int = 64, receptive: int = 3, blocks: int = 4, in_ch: int = 3, **_ignored):
    from .bnn_lan import LAN as Net

    return Net(width=width, receptive=receptive, blocks=blocks, in_ch=in_ch)


@register_model("amsnet", kind="denoiser")
def _amsnet(**config):
    from .amsnet import AMSNet

    return AMSNet(**config)
