"""The cached hot-path encoder writes exactly the lines of the plain reference encoder."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from citysense.quality import Quality
from hub.store.base import StoredReading
from hub.store.lineprotocol import encode, encode_reference

names = st.text(alphabet='ab ,=\\\n"é_x', min_size=1, max_size=6)
values = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))


@st.composite
def readings(draw: st.DrawFn) -> StoredReading:
    value = draw(values)
    quality = draw(st.sampled_from(list(Quality)))
    if value is None and quality is Quality.GOOD:
        quality = Quality.TIMEOUT
    return StoredReading(
        node=draw(st.sampled_from(["n1", "n 2"])),
        device=draw(st.sampled_from(["d1", "d,2", "d=3"])),
        profile=draw(st.sampled_from(["p", "p q"])),
        metric=draw(names.filter(lambda m: "__" not in m)),
        value=value,
        unit="u",
        ts_ms=draw(st.integers(0, 3)),
        quality=quality,
        tags=draw(st.dictionaries(st.sampled_from(["town", "dept", "a b", "node"]), names, max_size=3)),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(readings(), max_size=12), min_size=1, max_size=4))
def test_cached_encoder_agrees_with_reference_across_calls(calls: list[list[StoredReading]]) -> None:
    # Several calls in a row: a device whose tags change between calls must get its new series key.
    for batch in calls:
        assert encode(batch) == encode_reference(batch)


def test_changed_tags_of_a_device_change_its_series_key() -> None:
    def one(tags: dict[str, str]) -> StoredReading:
        return StoredReading("n1", "d1", "p", "t", 1.0, "", 5, Quality.GOOD, tags)

    assert encode([one({"town": "a"})]) == ["p,device=d1,node=n1,town=a t=1.0,t__q=0i 5"]
    assert encode([one({"town": "b"})]) == ["p,device=d1,node=n1,town=b t=1.0,t__q=0i 5"]
