"""Training crops cut on the accelerator from images held there.

On a GPU the host loader is the slow part of a small network's step: decoding nothing,
it still slices, flips and copies every crop on the CPU and ships it over PCIe. Here the
noisy images are uploaded once (uint8, as loaded) and each step's crops are sliced,
flipped and rotated on the device. The randomness is the host loader's own
(``CropDataset.params``: a pure function of seed and sample index), so both paths give
bit-identical batches and a resumed or distributed run sees the same samples either way.
"""

from __future__ import annotations

from .datasets import CropDataset, IndexSampler


class DeviceCrops:
    """Iterates float32 NCHW batches in [0,1], cut on ``device``, for steps start..total-1."""

    def __init__(self, dataset: CropDataset, device, start_step: int, total_steps: int, batch: int,
                 rank: int = 0, world: int = 1):
        import torch

        self.dataset = dataset
        self.device = device
        self.batch = batch
        self.sampler = IndexSampler(start_step, total_steps, batch, rank, world)
        # HxWx3 uint8 per image: a 24 MP photo set costs ~0.4 GB of device memory.
        self.images = [torch.from_numpy(im).to(device) for im in dataset.images]

    def crop(self, index: int):
        import torch

        i, y, x, code = self.dataset.params(index)
        c = self.dataset.crop
        a = self.images[i][y:y + c, x:x + c]
        if code & 4:
            a = torch.flip(a, dims=(1,))
        if code & 3:
            a = torch.rot90(a, code & 3, dims=(0, 1))
        return a.permute(2, 0, 1)

    def __iter__(self):
        import torch

        it = iter(self.sampler)
        while True:
            idx = [i for _, i in zip(range(self.batch), it)]
            if len(idx) < self.batch:
                return
            yield torch.stack([self.crop(i) for i in idx]).float().div_(255.0)


def fits_on_device(images, device, fraction: float = 0.25) -> bool:
    """Whether the uint8 images take at most ``fraction`` of the device's free memory."""
    import torch

    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return sum(im.nbytes for im in images) <= fraction * free
