"""jaxseq.data.celeba on tests/fixtures/celeba: the official layout (img_align_celeba.zip holding
img_align_celeba/NNNNNN.jpg at the real 178x218 size, and list_eval_partition.txt), written for these tests;
each fixture face is red outside its centred 178x178 square and a gradient inside. CelebA itself is not
available here."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from jaxseq.data import celeba
from jaxseq.errors import DataError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_splits_shapes_and_order():
    tr = celeba.load("train", 16, FIXTURES)
    assert tr.shape == (4, 16, 16, 3) and tr.dtype == np.uint8
    assert celeba.load("valid", 16, FIXTURES).shape == (1, 16, 16, 3)
    assert celeba.load("test", 8, FIXTURES).shape == (1, 8, 8, 3)
    allx = celeba.load("all", 16, FIXTURES)
    np.testing.assert_array_equal(allx[:4], tr)                          # file-name order
    assert celeba.load("train", 16, FIXTURES, limit=2).shape[0] == 2
    # the per-image red level inside the square: 0, 40, 80, ... (JPEG: a few levels of error)
    np.testing.assert_allclose(allx[:, 4:-4, 4:-4, 0].mean((1, 2)), 40 * np.arange(6), atol=6)


@pytest.mark.parametrize("size", [16, 64])
def test_centre_crop_keeps_the_square_and_drops_the_red_bands(size):
    x = celeba.load("train", size, FIXTURES)[0].astype(int)   # image 1: no red inside
    assert x[1:-1, 1:-1, 0].max() < 12                        # the red bands above and below are cut off
    # green rises left to right and blue top to bottom across the whole square (0..255)
    assert x[size // 2, 1, 1] < 30 and x[size // 2, -2, 1] > 225
    assert x[1, size // 2, 2] < 30 and x[-2, size // 2, 2] > 215


def test_crop_flag_zooms_in():
    x = celeba.load("train", 16, FIXTURES, crop=89)[0].astype(int)   # the central half of the square
    assert 50 < x[8, 0, 1] < 85 and 170 < x[8, -1, 1] < 205
    with pytest.raises(ValueError, match="crop = 300"):
        celeba.load("train", 16, FIXTURES, crop=300)


def test_official_sums_and_where_to_get_it(tmp_path):
    assert celeba.FILES["images"][1] == "00d2c5bc6d35e252742224ab0c1e8fcb"
    assert celeba.drive_url("partition").endswith(celeba.FILES["partition"][0])
    with pytest.raises(DataError, match="MD5 .* is not the official"):
        celeba.load("train", 16, FIXTURES, verify_md5=True)       # the fixture is not the release
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="cannot be downloaded by script.*mmlab"):
        celeba.load("train", 16, tmp_path / "empty")


def test_damaged_files_name_the_problem(tmp_path):
    d = tmp_path / "celeba"
    shutil.copytree(FIXTURES / "celeba", d)
    (d / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg train\n")
    with pytest.raises(DataError, match="line 2"):
        celeba.load("train", 16, tmp_path)
    (d / "list_eval_partition.txt").write_text("000001.jpg 0\n000099.jpg 0\n")
    with pytest.raises(DataError, match="missing from the zip .*000099.jpg"):
        celeba.load("train", 16, tmp_path)
    (d / "img_align_celeba.zip").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable zip"):
        celeba.load("train", 16, tmp_path)
    with zipfile.ZipFile(d / "img_align_celeba.zip", "w") as zf:
        zf.writestr("img_align_celeba/000001.jpg", b"garbage")
    (d / "list_eval_partition.txt").write_text("000001.jpg 0\n")
    with pytest.raises(DataError, match="000001.jpg is not a readable JPEG"):
        celeba.load("train", 16, tmp_path)
    with pytest.raises(ValueError, match="split = 'dev'"):
        celeba.load("dev", 16, tmp_path)
