import numpy as np
import pytest
from PIL import Image

from hushframe.toolkit.data.datasets import CropDataset, augment8, load_noisy_images
from hushframe.core.images import ImageError, read_image
from hushframe.core.pairs import PairError, find_pairs
from hushframe.toolkit.data.simulator import neighbour_correlation, simulate_pair


def _rgb(h=40, w=50, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_8bit_png_jpeg_and_rules_for_gray_rgba_palette(tmp_path):
    a = _rgb()
    Image.fromarray(a).save(tmp_path / "a.png")
    np.testing.assert_allclose(read_image(tmp_path / "a.png"), a / 255.0, atol=1e-6)
    Image.fromarray(a).save(tmp_path / "a.jpg", quality=95)
    assert read_image(tmp_path / "a.jpg").shape == (40, 50, 3)
    Image.fromarray(a[..., 0]).save(tmp_path / "g.png")  # gray -> replicated
    g = read_image(tmp_path / "g.png")
    assert g.shape == (40, 50, 3) and np.allclose(g[..., 0], g[..., 2])
    rgba = np.dstack([a, np.full((40, 50), 7, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")  # alpha dropped
    np.testing.assert_allclose(read_image(tmp_path / "rgba.png"), a / 255.0, atol=1e-6)
    Image.fromarray(a).convert("P").save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").shape == (40, 50, 3)


def test_16bit_gray_png_and_rgb_tiff(tmp_path):
    import tifffile

    g16 = np.random.default_rng(1).integers(0, 65536, (30, 20), dtype=np.uint16)
    Image.fromarray(g16).save(tmp_path / "g16.png")
    np.testing.assert_allclose(read_image(tmp_path / "g16.png")[..., 1], g16 / 65535.0, atol=1e-6)
    rgb16 = np.random.default_rng(2).integers(0, 65536, (30, 20, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "c16.tif", rgb16)
    np.testing.assert_allclose(read_image(tmp_path / "c16.tif"), rgb16 / 65535.0, atol=1e-6)


def test_corrupt_and_bomb_images_are_refused_by_name(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(ImageError, match="bad.png"):
        read_image(tmp_path / "bad.png")
    Image.fromarray(_rgb(8, 8)).save(tmp_path / "big.png")
    with pytest.raises(ImageError, match="refused before decoding"):
        read_image(tmp_path / "big.png", max_pixels=32)


def test_training_loader_skips_corrupt_and_pads_small_with_warnings(tmp_path):
    Image.fromarray(_rgb(100, 120)).save(tmp_path / "ok.png")
    Image.fromarray(_rgb(20, 30)).save(tmp_path / "small.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    warnings = []
    imgs = load_noisy_images([tmp_path], crop=64, warn=warnings.append)
    assert len(imgs) == 2 and all(min(i.shape[:2]) >= 64 for i in imgs)
    assert any("broken.jpg" in w for w in warnings) and any("small.png" in w and "padded" in w for w in warnings)


def test_pair_conventions(tmp_path):
    a, b = _rgb(seed=1), _rgb(seed=2)
    d1 = tmp_path / "polyu"; d1.mkdir()
    Image.fromarray(a).save(d1 / "x_real.png"); Image.fromarray(b).save(d1 / "x_mean.png")
    (p,) = find_pairs(d1)
    n, c = p.load()
    assert np.array_equal(n, a) and np.array_equal(c, b)
    d2 = tmp_path / "sidd" / "Data" / "0001_scene"; d2.mkdir(parents=True)
    Image.fromarray(a).save(d2 / "NOISY_SRGB_010.PNG"); Image.fromarray(b).save(d2 / "GT_SRGB_010.PNG")
    assert len(find_pairs(tmp_path / "sidd")) == 1
    d3n, d3c = tmp_path / "n", tmp_path / "c"; d3n.mkdir(); d3c.mkdir()
    Image.fromarray(a).save(d3n / "f.png"); Image.fromarray(b).save(d3c / "f.png")
    assert len(find_pairs(d3n, d3c)) == 1
    with pytest.raises(PairError, match="no image pairs"):
        find_pairs(d3c)


def test_sidd_validation_mat_blocks(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 256, (2, 3, 16, 16, 3), dtype=np.uint8)
    savemat(tmp_path / "ValidationNoisyBlocksSrgb.mat", {"ValidationNoisyBlocksSrgb": noisy})
    savemat(tmp_path / "ValidationGtBlocksSrgb.mat", {"ValidationGtBlocksSrgb": noisy[::-1]})
    pairs = find_pairs(tmp_path / "ValidationNoisyBlocksSrgb.mat")
    assert len(pairs) == 6
    n, c = pairs[4].load()
    assert np.array_equal(n, noisy[1, 1]) and np.array_equal(c, noisy[0, 1])


def _write_video(path, codec, pix_fmt, frames):
    """A 64x48 clip of ``frames`` frames (PyAV), for the video readers."""
    av = pytest.importorskip("av", reason="PyAV not installed")
    with av.open(str(path), "w") as out:
        s = out.add_stream(codec, rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, pix_fmt
        for i in range(frames):
            for pkt in s.encode(av.VideoFrame.from_ndarray(_rgb(48, 64, i), format="rgb24")):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    return path


def test_video_frames_are_training_data(tmp_path):
    path = _write_video(tmp_path / "clip.mkv", "ffv1", "yuv444p", 12)
    imgs = load_noisy_images([path], video_every=4)
    assert len(imgs) == 3 and imgs[0].shape == (48, 64, 3)


def test_video_whose_sample_table_claims_gigabytes_is_one_error_naming_it(tmp_path):
    """Found by the fuzz test: an .mp4 whose first sample claims ~1 GB made the demuxer raise ENOMEM
    (av.error.MemoryError) past the reader."""
    from hushframe.toolkit.data.video import read_video_frames

    path = _write_video(tmp_path / "clip.mp4", "mpeg4", "yuv420p", 4)
    data = bytearray(path.read_bytes())
    k = data.find(b"stsz")
    data[k + 16:k + 24] = b"99999999"  # the first two sample sizes: ~960 MB each
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    with pytest.raises(ImageError, match="bad.mp4"):
        read_video_frames(bad, max_frames=8)


def test_crops_are_deterministic_and_use_all_8_transforms():
    a = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    outs = {augment8(a, c).tobytes() for c in range(8)}
    assert len(outs) == 8
    ds = CropDataset([_rgb(80, 90)], crop=32, seed=3)
    assert ds[17].shape == (3, 32, 32)
    assert (ds[17] == ds[17]).all() and not (ds[17] == ds[18]).all()


def test_simulator_noise_is_spatially_correlated_iid_is_not():
    rng = np.random.default_rng(0)
    clean = np.random.default_rng(5).uniform(0.2, 0.8, (96, 96, 3)).astype(np.float32)
    clean = (clean + np.roll(clean, 1, 0) + np.roll(clean, 1, 1)) / 3  # some texture
    noisy, gt = simulate_pair(clean, rng, "medium")
    corr_sim = neighbour_correlation(noisy - gt)
    corr_iid = neighbour_correlation(rng.normal(0, 0.02, noisy.shape))
    assert corr_sim > 0.3, corr_sim
    assert abs(corr_iid) < 0.05, corr_iid
    assert noisy.shape == gt.shape and 0 <= noisy.min() and noisy.max() <= 1
