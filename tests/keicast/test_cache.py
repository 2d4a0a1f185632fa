import hashlib
import threading
import time
import types

import pandas as pd

from keicast import cache
from keicast.cache import cached_frames, code_digest, digest


def test_digest_is_sha256_of_the_parts_joined_by_a_unit_separator():
    assert digest("ab", "c") == hashlib.sha256(b"ab\x1fc").hexdigest()
    assert digest("ab", "c") != digest("a", "bc")
    assert digest("a", "b") != digest("b", "a")
    assert digest("x") == digest("x")


def test_code_digest_follows_the_source_of_the_modules():
    assert code_digest(cache) == digest(open(cache.__file__).read())
    assert code_digest(cache) != code_digest(types)
    assert code_digest(cache, types) != code_digest(types, cache)


def frames():
    return {"a": pd.DataFrame({"x": [1, 2], "y": [0.5, 1.5]}), "b": pd.DataFrame({"name": ["one"]})}


def test_cached_frames_computes_once_then_reads_from_disk(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return frames()

    first = cached_frames(tmp_path, "key1", compute, ("a", "b"))
    second = cached_frames(tmp_path, "key1", compute, ("a", "b"))
    assert len(calls) == 1
    for name in ("a", "b"):
        pd.testing.assert_frame_equal(first[name], frames()[name])
        pd.testing.assert_frame_equal(second[name], frames()[name])
    assert sorted(p.name for p in (tmp_path / "key1").iterdir()) == ["a.parquet", "b.parquet"]


def test_another_key_or_a_missing_frame_computes_again(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return frames()

    cached_frames(tmp_path, "key1", compute, ("a",))
    cached_frames(tmp_path, "key2", compute, ("a",))
    cached_frames(tmp_path, "key1", compute, ("a", "b"))  # b was never stored under key1
    assert len(calls) == 3
    assert (tmp_path / "key1" / "b.parquet").is_file()


def test_only_the_named_frames_are_stored_and_no_temp_folder_is_left(tmp_path):
    cached_frames(tmp_path / "cache", "k", lambda: {**frames(), "extra": pd.DataFrame({"z": [1]})}, ("a",))
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.suffix != ".lock"] == ["k"]
    assert [p.name for p in (tmp_path / "cache" / "k").iterdir()] == ["a.parquet"]


def test_two_callers_asking_for_one_key_compute_it_once(tmp_path):
    calls, results = [], []

    def compute():
        calls.append(1)
        time.sleep(0.5)  # long enough for the other caller to arrive while this one computes
        return frames()

    def ask():
        results.append(cached_frames(tmp_path, "k", compute, ("a", "b")))

    callers = [threading.Thread(target=ask) for _ in range(2)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert len(calls) == 1 and len(results) == 2
    for got in results:
        pd.testing.assert_frame_equal(got["a"], frames()["a"])
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".lock") == ["k"]
