"""Aligned (noisy crop, pseudo-label crop) samples for distillation from frame teachers.

The same random crop and the same one of the 8 flips/rotations is cut from the noisy
image and from each teacher's label of it, exactly as ``CropDataset`` cuts noisy crops
(same image choice by area, same seeded draws), so a sample is a pure function of
(seed, index) and resumed runs see the same data.

A sample is one 6-channel float tensor: channels 0-2 the noisy crop, 3-5 the weighted
sum of the label crops, both in [0,1]. One tensor (not a tuple) keeps the shared
training loop's batch handling unchanged; ``split_pair`` takes it apart.
"""

from __future__ import annotations

import numpy as np

from .datasets import CropDataset, augment8


class PairedCropDataset(CropDataset):
    def __init__(self, images: list[np.ndarray], labels: list[list[np.ndarray]], weights: list[float],
                 crop: int, seed: int = 0):
        """``labels[t][i]`` is teacher t's uint8 label of ``images[i]``; ``weights[t]`` its weight."""
        super().__init__(images, crop, seed)
        if len(labels) != len(weights):
            raise ValueError("one weight per label set")
        for lab in labels:
            if len(lab) != len(images) or any(a.shape != b.shape for a, b in zip(lab, images)):
                raise ValueError("every label set needs one label of each image's shape")
        self.labels = labels
        self.label_weights = [float(w) for w in weights]

    def __getitem__(self, index: int):
        import torch

        rng = np.random.default_rng([self.seed, int(index)])
        # The draws of datasets.random_crop, in its order, applied to every aligned array.
        i = int(rng.choice(len(self.images), p=self.weights))
        im = self.images[i]
        h, w = im.shape[:2]
        y = int(rng.integers(0, h - self.crop + 1))
        x = int(rng.integers(0, w - self.crop + 1))
        code = int(rng.integers(8))
        win = (slice(y, y + self.crop), slice(x, x + self.crop))
        noisy = augment8(im[win], code).astype(np.float32)
        target = np.zeros_like(noisy)
        for lab, wt in zip(self.labels, self.label_weights):
            target += wt * augment8(lab[i][win], code).astype(np.float32)
        both = np.concatenate([noisy, target], axis=2).transpose(2, 0, 1)
        return torch.from_numpy(np.ascontiguousarray(both)).div_(255.0)


def split_pair(batch):
    """(noisy, weighted label) halves of a PairedCropDataset batch."""
    return batch[:, :3], batch[:, 3:]
