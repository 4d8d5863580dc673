"""The unmodified Segment Python SDK (PyPI segment-analytics-python) pointed at the
collector with its `host` option: every call lands with its fields."""

import datetime

import segment.analytics as analytics_mod

from conftest import COLLECTOR_URL, KEY, events_by_message_id, uid


def test_segment_analytics_python_calls_land_with_their_fields(r):
    errors = []
    client = analytics_mod.Client(KEY, host=COLLECTOR_URL, on_error=lambda e, batch: errors.append(str(e)),
                                  max_retries=2, sync_mode=True)
    user = uid("py")
    ts = datetime.datetime(2024, 5, 1, 10, 0, tzinfo=datetime.timezone.utc)
    client.track(user, "Order Completed", {"revenue": 42.0, "currency": "EUR"}, message_id=f"{user}-t", timestamp=ts)
    client.identify(user, {"email": "a@example.com"}, message_id=f"{user}-i")
    client.page(user, "Docs", "Pricing", {"url": "https://e.x/p"}, message_id=f"{user}-p")
    client.screen(user, "App", "Cart", message_id=f"{user}-s")
    client.group(user, "acme", {"size": 3}, message_id=f"{user}-g")
    client.alias("anon-9", user, message_id=f"{user}-a")
    client.flush()
    assert errors == []
    found = events_by_message_id(r, [f"{user}-{x}" for x in "tipsga"])
    assert sorted(found) == sorted(f"{user}-{x}" for x in "tipsga")
    t = found[f"{user}-t"][0]
    assert (t["type"], t["event"], t["userId"]) == ("track", "Order Completed", user)
    assert t["properties"] == {"revenue": 42.0, "currency": "EUR"}
    assert t["originalTimestamp"] == "2024-05-01T10:00:00.000Z"
    assert t["context"]["library"]["name"] == "analytics-python"
    assert found[f"{user}-i"][0]["traits"] == {"email": "a@example.com"}
    assert (found[f"{user}-p"][0]["name"], found[f"{user}-p"][0]["category"]) == ("Pricing", "Docs")
    assert found[f"{user}-g"][0]["groupId"] == "acme"
    assert found[f"{user}-a"][0]["previousId"] == "anon-9"
