"""Manifest parsing, for any text or bytes hypothesis can think of: it parses or says why not."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings, strategies as st

from classicfy.data.manifest import read_csv
from classicfy.errors import DatasetError


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list('pathlbegroupsitrvn,"\n\r ./\x00é-_0123456789')), max_size=300))
def test_any_csv_text_parses_or_is_a_dataset_error(tmp_path, text):
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    try:
        recordings = read_csv(path)
    except DatasetError:
        return
    assert all(r.label and r.group for r in recordings)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400))
def test_any_bytes_as_a_csv_parse_or_are_a_dataset_error(tmp_path, data):
    path = tmp_path / "data.csv"
    path.write_bytes(data)
    with contextlib.suppress(DatasetError):  # a clear refusal is fine; any other exception fails
        read_csv(path)
