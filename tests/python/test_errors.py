"""Library errors become Python exceptions carrying the library's message."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import cascade
from conftest import EMBEDDED


def test_exception_hierarchy():
    assert issubclass(cascade.DataError, ValueError)
    assert issubclass(cascade.DataError, cascade.Error)
    assert issubclass(cascade.NotSupported, cascade.Error)
    assert issubclass(cascade.Error, Exception)


@pytest.mark.parametrize("bad_line,field", [("2,11,x,101", "rating"), ("2,11,4.0,later", "timestamp")])
def test_bad_data_file_names_file_line_and_field(tmp_path, bad_line, field):
    path = tmp_path / "log.csv"
    path.write_text("1,10,4.0,100\n" + bad_line + "\n3,12,5.0,102\n")
    with pytest.raises(cascade.DataError) as info:
        cascade.load_dataset("csv", str(path), columns=["user", "item", "rating", "timestamp"])
    e = info.value
    assert e.file == str(path)
    assert e.line == 2
    assert e.field == field
    assert str(path) in str(e) and field in str(e)


def test_skip_bad_rows_gets_past_the_bad_row(tmp_path):
    # 6 positives for one user (min_positives 5), one malformed row in the middle.
    rows = [f"1,{i},5.0,{i}" for i in range(10, 16)] + [f"2,{i},5.0,{i}" for i in range(10, 16)]
    rows.insert(3, "1,99,oops,3")
    path = tmp_path / "log.csv"
    path.write_text("\n".join(rows) + "\n")
    ds = cascade.load_dataset("csv", str(path), columns=["user", "item", "rating", "timestamp"],
                              skip_bad_rows=True)
    assert ds.n_users == 2 and ds.item_index("99") == -1


def test_unknown_channel_lists_the_known_ones():
    with pytest.raises(cascade.Error, match="unknown recall channel 'nope'") as info:
        cascade.Channel("nope")
    assert "ials" in str(info.value)


def test_unknown_keyword_is_named():
    with pytest.raises(cascade.Error, match="factorz"):
        cascade.Channel("ials", factorz=3)


@pytest.mark.parametrize("kwargs,name", [({"factors": 0}, "factors"), ({"iters": 100000}, "iters"),
                                         ({"reg": "abc"}, "reg")])
def test_out_of_range_or_malformed_keyword_is_named(kwargs, name):
    with pytest.raises(cascade.Error, match=f"'{name}'"):
        cascade.Channel("ials", **kwargs)


def test_unknown_protocol_is_named():
    with pytest.raises(cascade.Error, match="bogus"):
        cascade.load_dataset("ml-latest-small", str(EMBEDDED), protocol="bogus")


def test_wrong_split_name(snapshot, ials):
    with pytest.raises(cascade.Error, match="tset"):
        cascade.evaluate(ials, snapshot, split="tset")
    with pytest.raises(cascade.Error, match="tset"):
        snapshot.split_arrays("tset")


def test_unfitted_channel():
    with pytest.raises(cascade.Error, match="not fitted"):
        cascade.Channel("ials").recommend(0)


def test_recommend_out_of_range_user(ials, snapshot):
    for bad in (snapshot.n_users, -1):
        with pytest.raises(IndexError, match=str(bad)):
            ials.recommend(bad, k=5)
    with pytest.raises(IndexError):
        ials.recommend(np.array([0, snapshot.n_users + 10]), k=5)
    with pytest.raises(IndexError):
        snapshot.history(snapshot.n_users)


def test_recommend_k_zero(ials):
    with pytest.raises(ValueError, match="k"):
        ials.recommend(0, k=0)


def test_item_vectors_not_supported(snapshot):
    pop = cascade.Channel("popularity")
    pop.fit(snapshot)
    with pytest.raises(cascade.NotSupported):
        pop.item_vectors


@pytest.fixture(scope="module")
def recommender(bundle_dir):
    return cascade.Recommender(str(bundle_dir))


def test_recommender_diversity_out_of_range(recommender):
    with pytest.raises(ValueError, match="diversity"):
        recommender.recommend("1", k=10, diversity=2)


def test_recommender_bad_k_names_k(recommender):
    with pytest.raises(ValueError, match="k must be"):
        recommender.recommend("1", k=0)


def test_recommender_error_message_is_the_plain_message(recommender):
    with pytest.raises(ValueError) as info:
        recommender.recommend("1", k=0)
    assert str(info.value).startswith("k must be")
    assert (info.value.param, info.value.status) == ("k", 400)


def test_missing_bundle_dir(tmp_path):
    with pytest.raises(cascade.Error, match="nothere"):
        cascade.Recommender(str(tmp_path / "nothere"))


def test_tampered_bundle_names_the_file(bundle_dir, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    victim = "channels/ials/item_factors.f32"
    data = bytearray((copy / victim).read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one flipped byte: only the checksum can tell
    (copy / victim).write_bytes(bytes(data))
    with pytest.raises(cascade.Error, match="item_factors.f32"):
        cascade.Recommender(str(copy))


def test_missing_snapshot_and_model(tmp_path):
    with pytest.raises(cascade.Error, match="nope"):
        cascade.load_snapshot(str(tmp_path / "nope"))
    with pytest.raises(cascade.Error, match="manifest"):
        cascade.Channel.load(str(tmp_path))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    rows = [f"{u},{i},5.0,{i}" for u in range(1, 4) for i in range(10, 18)]
    path = tmp_path_factory.mktemp("tiny") / "tiny.csv"
    path.write_text("\n".join(rows) + "\n")
    return cascade.load_dataset("csv", str(path), columns=["user", "item", "rating", "timestamp"])


def test_model_with_a_smaller_catalogue_is_refused(snapshot, tiny):
    # Histories of the big dataset hold items the tiny model does not know: an error, never an
    # out-of-bounds read.
    small = cascade.Channel("ials", factors=4, iters=1)
    small.fit(tiny, threads=1)
    with pytest.raises(cascade.Error, match="8 items"):
        cascade.evaluate(small, snapshot)
    with pytest.raises(cascade.Error, match="8 items"):
        small.recommend(5, k=3, dataset=snapshot)


def test_model_with_a_larger_catalogue_is_refused(ials, tiny):
    # Silently scoring another catalogue would give meaningless numbers.
    with pytest.raises(cascade.Error, match="not trained on this dataset"):
        cascade.evaluate(ials, tiny)
    with pytest.raises(cascade.Error, match="not trained on this dataset"):
        ials.recommend(0, k=3, dataset=tiny)
