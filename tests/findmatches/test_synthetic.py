"""Synthetic customers: determinism, schema, duplicate structure, realistic noise, speed."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rapidfuzz.distance import OSA

from etl.findmatches.synthetic import SCHEMA, generate_customers, typos, write_customers

FIELDS = ["first_name", "last_name", "email", "phone", "street", "city", "postcode", "date_of_birth"]


def _normalized(table: pa.Table) -> pd.DataFrame:
    frame = table.to_pandas()
    frame["first_lower"] = frame["first_name"].str.lower()
    frame["last_lower"] = frame["last_name"].str.lower()
    frame["phone_digits"] = frame["phone"].str.replace(r"\D", "", regex=True).str[-10:]
    return frame


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return _normalized(generate_customers(20_000, duplicate_rate=0.3, seed=11))


@pytest.fixture(scope="module")
def duplicate_pairs(customers: pd.DataFrame) -> pd.DataFrame:
    """Every pair of records of the same entity, once."""
    pairs = customers.merge(customers, on="entity_id", suffixes=("_l", "_r"))
    return pairs[pairs["customer_id_l"] < pairs["customer_id_r"]].reset_index(drop=True)


COMPARED = ["first_lower", "last_lower", "phone_digits", "email", "street", "city", "postcode", "date_of_birth"]


def _shared_fields(left: pd.DataFrame, right: pd.DataFrame) -> pd.Series:
    return sum((left[f].to_numpy() == right[f].to_numpy()).astype(int) for f in COMPARED)


def test_same_seed_gives_the_same_table_and_another_seed_does_not() -> None:
    first = generate_customers(3_000, seed=5)
    assert first.equals(generate_customers(3_000, seed=5))
    assert not first.equals(generate_customers(3_000, seed=6))


def test_schema_ids_and_dates(customers: pd.DataFrame) -> None:
    table = generate_customers(500, seed=1)
    assert table.schema == SCHEMA
    assert table.num_rows == 500
    assert len(customers) == 20_000
    assert customers["customer_id"].is_unique
    assert customers["customer_id"].notna().all() and customers["entity_id"].notna().all()
    assert customers["first_name"].notna().mean() > 0.95
    dob = pd.to_datetime(customers["date_of_birth"].dropna())
    assert dob.min() >= pd.Timestamp("1938-01-01") and dob.max() <= pd.Timestamp("2008-12-31")
    # Records of an entity are spread out, not adjacent.
    assert (customers["entity_id"].diff() == 0).mean() < 0.01


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.3, 0.5, 0.8])
def test_duplicate_rate_is_the_share_of_extra_records(rate: float) -> None:
    table = generate_customers(10_000, duplicate_rate=rate, seed=2)
    sizes = table.to_pandas().groupby("entity_id").size()
    assert 1 - sizes.size / table.num_rows == pytest.approx(rate, abs=1e-4)
    assert sizes.min() >= 1 and sizes.max() <= 5


def test_entity_sizes_are_skewed(customers: pd.DataFrame) -> None:
    counts = customers.groupby("entity_id").size().value_counts()
    assert counts[1] > counts[2] > counts[3] > counts[4] > counts[5] > 0


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="n_records"):
        generate_customers(0)
    with pytest.raises(ValueError, match="duplicate_rate"):
        generate_customers(100, duplicate_rate=0.9)
    with pytest.raises(ValueError, match="duplicate_rate"):
        generate_customers(100, duplicate_rate=-0.1)
    with pytest.raises(ValueError, match="noise"):
        generate_customers(100, noise=-1)


def test_duplicates_are_noisy_but_stay_close(customers: pd.DataFrame, duplicate_pairs: pd.DataFrame) -> None:
    pairs = duplicate_pairs
    same_first = (pairs["first_name_l"] == pairs["first_name_r"]).mean()
    assert 0.6 < same_first < 0.9
    left = pairs[[f + "_l" for f in COMPARED]].set_axis(COMPARED, axis=1)
    right = pairs[[f + "_r" for f in COMPARED]].set_axis(COMPARED, axis=1)
    shared = _shared_fields(left, right)
    assert (shared < len(COMPARED)).mean() > 0.5  # most duplicates differ somewhere
    assert (shared >= 3).mean() > 0.98  # ...but nearly all still share three fields exactly

    rng = np.random.default_rng(0)
    a = customers.iloc[rng.integers(0, len(customers), 50_000)].reset_index(drop=True)
    b = customers.iloc[rng.integers(0, len(customers), 50_000)].reset_index(drop=True)
    different = a["entity_id"].to_numpy() != b["entity_id"].to_numpy()
    assert (_shared_fields(a, b)[different] >= 2).mean() < 0.005  # strangers rarely look alike


def test_every_kind_of_noise_occurs(customers: pd.DataFrame, duplicate_pairs: pd.DataFrame) -> None:
    p = duplicate_pairs
    fl, fr, ll, lr = p["first_name_l"], p["first_name_r"], p["last_name_l"], p["last_name_r"]
    nicknames = {("robert", "bob"), ("william", "bill"), ("james", "jim"), ("michael", "mike"), ("john", "jack")}
    lower = set(zip(p["first_lower_l"], p["first_lower_r"], strict=True))
    assert nicknames & (lower | {(b, a) for a, b in lower})
    assert ((fl == lr) & (ll == fr) & (fl != ll)).any(), "first and last name swapped"
    assert ((fl.str.upper() == fr) & (fl != fr)).any(), "name upper-cased"
    both = fl.notna() & fr.notna() & (p["first_lower_l"] != p["first_lower_r"])
    distances = [OSA.distance(a, b) for a, b in zip(p["first_lower_l"][both], p["first_lower_r"][both], strict=True)]
    assert distances.count(1) > 100, "single-character typos"
    assert p["last_name_r"].isna().any() and p["phone_r"].isna().any() and p["email_r"].isna().any()

    local_l, domain_l = p["email_l"].str.split("@").str[0], p["email_l"].str.split("@").str[1]
    local_r, domain_r = p["email_r"].str.split("@").str[0], p["email_r"].str.split("@").str[1]
    assert ((local_l == local_r) & (domain_l != domain_r)).any(), "other e-mail domain"
    assert ((local_l != local_r) & (domain_l == domain_r)).any(), "other e-mail format"
    same_digits = p["phone_digits_l"] == p["phone_digits_r"]
    assert (same_digits & (p["phone_l"] != p["phone_r"])).mean() > 0.1, "other phone format"
    typo = ~same_digits & p["phone_l"].notna() & p["phone_r"].notna()
    digits = zip(p["phone_digits_l"][typo], p["phone_digits_r"][typo], strict=True)
    edits = [OSA.distance(a, b) for a, b in digits]  # two duplicates may each have a typo
    assert edits.count(1) > 10 and max(edits) <= 2, "one wrong or swapped phone digit"

    short = {" Street": " St", " Road": " Rd", " Avenue": " Ave", " Lane": " Ln", " Drive": " Dr"}
    expanded_l, expanded_r = p["street_l"], p["street_r"]
    for full, abbreviation in short.items():
        expanded_l = expanded_l.str.replace(abbreviation + "$", full, regex=True)
        expanded_r = expanded_r.str.replace(abbreviation + "$", full, regex=True)
    assert ((p["street_l"] != p["street_r"]) & (expanded_l == expanded_r)).sum() > 100, "Street/St"

    dob_l, dob_r = pd.to_datetime(p["date_of_birth_l"]), pd.to_datetime(p["date_of_birth_r"])
    swapped = (dob_l.dt.day == dob_r.dt.month) & (dob_l.dt.month == dob_r.dt.day) & (dob_l != dob_r)
    assert swapped.any(), "day and month swapped"
    shifted = (dob_l.dt.day == dob_r.dt.day) & (dob_l.dt.month == dob_r.dt.month)
    assert (shifted & ((dob_l.dt.year - dob_r.dt.year).abs() == 1)).any(), "year off by one"


def test_typos_make_exactly_one_edit() -> None:
    rng = np.random.default_rng(3)
    words = np.array(["Robert", "O'Brien", "New York", "x", "ab", "5551234567", "a@b.com", ""] * 500)
    changed = typos(words, rng)
    assert changed.shape == words.shape
    for before, after in zip(words.tolist(), changed.tolist(), strict=True):
        assert OSA.distance(before, after) == (1 if before else 0), (before, after)
        if before.isdigit():
            assert after.isdigit(), (before, after)
    assert np.array_equal(changed, typos(words, np.random.default_rng(3)))
    assert len({after for before, after in zip(words, changed, strict=True) if before == "Robert"}) > 20


def test_write_customers_writes_the_generated_table(tmp_path) -> None:
    target = tmp_path / "customers"
    target.mkdir()
    (target / "part-00009.parquet").write_bytes(b"stale")
    (target / "README").write_text("kept")
    written = write_customers(target, 1_000, seed=4, files=3)
    assert sorted(f.name for f in written.iterdir()) == [
        "README",
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    parts = [pq.read_table(target / f"part-{i:05d}.parquet") for i in range(3)]
    assert pa.concat_tables(parts).equals(generate_customers(1_000, seed=4))


def test_100k_records_generate_quickly() -> None:
    start = time.perf_counter()
    table = generate_customers(100_000, seed=9)
    assert time.perf_counter() - start < 10
    assert table.num_rows == 100_000
