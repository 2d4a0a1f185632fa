"""Reading input files safely: devices, FIFOs, links and sparse giants are refused before a byte is read."""

import os
import time

import pytest

from keicast.inputs import InputRefused, read_bounded


def test_a_regular_file_within_the_limit_is_read(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"x" * 100)
    assert read_bounded(path, 100) == b"x" * 100


def test_a_sparse_giant_is_refused_by_its_size_without_reading_it(tmp_path):
    path = tmp_path / "sparse.txt"
    with open(path, "wb") as handle:
        handle.truncate(6 * 2**30)  # 6 GiB, no blocks on disk
    start = time.perf_counter()
    with pytest.raises(InputRefused, match="too large: 6,442,450,944 bytes"):
        read_bounded(path, 2_000_000)
    assert time.perf_counter() - start < 1


def test_a_device_reporting_size_zero_is_refused():
    with pytest.raises(InputRefused, match="device, FIFO or socket"):
        read_bounded("/dev/zero", 1_000_000)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    start = time.perf_counter()
    with pytest.raises(InputRefused, match="device, FIFO or socket"):
        read_bounded(fifo, 1_000_000)
    assert time.perf_counter() - start < 1


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(InputRefused, match="a folder"):
        read_bounded(tmp_path, 1_000)


def test_links_are_followed_only_when_asked(tmp_path):
    target = tmp_path / "secret.txt"
    target.write_text("outside")
    link = tmp_path / "article.txt"
    link.symlink_to(target)
    assert read_bounded(link, 100) == b"outside"
    with pytest.raises(InputRefused, match="symbolic link, not followed"):
        read_bounded(link, 100, follow_symlinks=False)
