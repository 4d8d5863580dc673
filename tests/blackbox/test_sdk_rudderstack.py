"""The unmodified RudderStack Python SDK (PyPI rudder-sdk-python) with the collector as its
data plane: every call lands with its fields (gzip on, as the SDK defaults)."""

from rudderstack.analytics.client import Client

from conftest import COLLECTOR_URL, KEY, events_by_message_id, uid


def test_rudder_sdk_python_calls_land_with_their_fields(r):
    errors = []
    client = Client(KEY, host=COLLECTOR_URL, sync_mode=True, gzip=True, max_retries=2,
                    on_error=lambda e, batch: errors.append(str(e)))
    user = uid("rudder")
    client.track(user, "Order Completed", {"revenue": 7.5}, message_id=f"{user}-t")
    client.identify(user, {"plan": "pro"}, message_id=f"{user}-i")
    client.page(user, "Docs", "Pricing", {"url": "https://e.x/p"}, message_id=f"{user}-p")
    client.screen(user, "App", "Cart", message_id=f"{user}-s")
    client.group(user, "acme", {"size": 3}, message_id=f"{user}-g")
    client.alias("anon-3", user, message_id=f"{user}-a")
    client.flush()
    assert errors == []
    found = events_by_message_id(r, [f"{user}-{x}" for x in "tipsga"])
    assert sorted(found) == sorted(f"{user}-{x}" for x in "tipsga")
    t = found[f"{user}-t"][0]
    assert (t["type"], t["event"], t["userId"], t["properties"]) == ("track", "Order Completed", user, {"revenue": 7.5})
    assert t["context"]["library"]["name"]  # the SDK (a fork of analytics-python) names itself
    identify = found[f"{user}-i"][0]
    assert identify["context"]["traits"] == {"plan": "pro"}  # RudderStack puts identify traits in context
    assert t["channel"] == "server"  # RudderStack's own top-level field is kept
    assert found[f"{user}-g"][0]["groupId"] == "acme"
    assert found[f"{user}-a"][0]["previousId"] == "anon-3"
