"""Training data: every mode becomes RGB the documented way; bad files are skipped and named."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ddpm_studio.training.data import DataError, load_rgb, scan
from ddpm_studio.training.ddpm.dataset import ImageFolderDataset
from tests.folders import hostile_folder


def test_hostile_folder_keeps_the_good_and_names_the_bad(tmp_path):
    folder, good, bad = hostile_folder(tmp_path / "hostile")
    report, arrays = scan(folder, 16)
    assert {p.name for p in report.good} == good
    assert {p.name for p, _ in report.bad} == bad
    reasons = {p.name: reason for p, reason in report.bad}
    assert "0 bytes" in reasons["empty.png"]
    assert "too small (1×1" in reasons["one-pixel.png"]
    assert "not an image" in reasons["notes.png"]
    assert "cannot be decoded" in reasons["truncated.png"] or "not an image" in reasons["truncated.png"]
    assert f"{len(good)} usable image(s)" in report.summary() and f"{len(bad)} skipped" in report.summary()
    assert all(a.dtype == np.uint8 and a.shape[2] == 3 and min(a.shape[:2]) == 16 for a in arrays)


def test_broken_symbolic_links_are_named_with_their_reason(tmp_path):
    """A link that points nowhere or loops is reported like any other unusable file; hidden ones, links without an
    image name, and linked folders are not looked at."""
    folder, good, bad = hostile_folder(tmp_path / "hostile")
    if not (folder / "gone.png").is_symlink():
        pytest.skip("symbolic links cannot be made here")
    report, _ = scan(folder, 16)
    reasons = {p.name: reason for p, reason in report.bad}
    assert reasons["gone.png"] == "a symbolic link to a missing file (missing.png)"
    assert reasons["loop.png"] == "a symbolic link that loops back on itself"
    assert reasons["cycle-a.png"] == reasons["cycle-b.png"] == "a symbolic link that loops back on itself"
    assert ".hidden-gone.png" not in reasons and "gone.txt" not in reasons
    details = report.details()
    assert f"skipped {folder / 'gone.png'}: a symbolic link to a missing file (missing.png)" in details
    assert f"skipped {folder / 'loop.png'}: a symbolic link that loops back on itself" in details
    assert sorted(p.name for p in report.good) == sorted(good)  # the linked folder's images are not counted twice
    assert len(report.bad) == len(bad)


def test_documented_conversions(tmp_path):
    folder, _, _ = hostile_folder(tmp_path / "hostile")
    palette = np.asarray(load_rgb(folder / "sub" / "palette-transparent.png"))
    assert (palette[:, :12] == 255).all()  # transparent -> white
    assert tuple(palette[0, 20]) == (0, 200, 0)
    assert (np.asarray(load_rgb(folder / "sub" / "clear-rgba.png")) == 255).all()
    cmyk = np.asarray(load_rgb(folder / "cmyk.jpg")).reshape(-1, 3).mean(0)
    assert cmyk[0] > 200 and cmyk[1] < 60 and cmyk[2] < 60  # still red
    sixteen = np.asarray(load_rgb(folder / "sixteen-bit.png"))
    assert sixteen.min() == 0 and sixteen.max() == 255  # scaled from its own range
    assert (np.asarray(load_rgb(folder / "frames.gif")) == 9).all()  # first frame


def test_exif_rotation_is_applied(tmp_path):
    image = Image.new("RGB", (30, 20), (255, 0, 0))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    image.save(tmp_path / "rotated.jpg", exif=exif)
    assert load_rgb(tmp_path / "rotated.jpg").size == (20, 30)


def test_dataset_tensors(tmp_path):
    folder, good, _ = hostile_folder(tmp_path / "hostile")
    dataset = ImageFolderDataset(folder, 16, center_crop=False, random_flip=True)
    assert len(dataset) == len(good)
    sample = dataset[0]
    assert sample.shape == (3, 16, 16) and -1.0 <= float(sample.min()) and float(sample.max()) <= 1.0


def test_no_usable_image_is_a_clear_error(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.png").write_text("no")
    with pytest.raises(DataError, match=r"No usable image in .*junk \(1 file\(s\) could not be used\)"):
        scan(tmp_path / "junk", 16)
    with pytest.raises(DataError, match="Training folder not found"):
        scan(tmp_path / "missing", 16)


def test_decompression_bomb_is_skipped_and_named(tmp_path, monkeypatch):
    Image.new("RGB", (64, 64), (10, 20, 30)).save(tmp_path / "huge.png")
    Image.new("RGB", (16, 16), (10, 20, 30)).save(tmp_path / "fine.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 64×64 = 4096 pixels: over the limit
    report, _ = scan(tmp_path, 16)
    assert [p.name for p in report.good] == ["fine.png"]
    assert report.bad[0][0].name == "huge.png" and "too large to decode safely" in report.bad[0][1]


def test_scan_keeps_the_first_images_within_its_budget(tmp_path):
    for i in range(5):
        Image.new("RGB", (16, 16), (i, i, i)).save(tmp_path / f"{i}.png")
    report, arrays = scan(tmp_path, 16, keep_budget=2 * 16 * 16 * 3)
    assert len(report.good) == 5 and [int(a[0, 0, 0]) for a in arrays] == [0, 1]
    dataset = ImageFolderDataset(tmp_path, 16)
    assert len(dataset) == 5 and dataset._arrays is not None
