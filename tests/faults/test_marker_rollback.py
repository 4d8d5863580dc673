"""A request whose append fails is not remembered as appended: the retry marker is set
before the XADD (one ZADD NX into <stream>:seen), so when the XADD fails the script takes
the marker back.
Otherwise the client's retry would be answered 200 "duplicate" for events never stored.
The stream is made unwritable by putting a string where it lives (the real stream is
renamed aside and back, consumer group and entries included)."""

from conftest import Client, events_by_message_id, uid, unwritable_stream



def test_a_failed_append_leaves_no_marker_and_the_retry_is_stored(r):
    client = Client()
    mid = uid("m")
    batch = {"batch": [{"type": "track", "event": "Rollback", "userId": uid("u"), "messageId": mid}]}
    with unwritable_stream(r):
        resp = client.post("/v1/batch", batch)
        assert resp.status_code == 503, resp.text
        assert resp.json()["code"] == "backend_unavailable"
    resp = client.post("/v1/batch", batch)
    assert resp.status_code == 200, resp.text
    assert "duplicate" not in resp.json(), resp.text
    assert len(events_by_message_id(r, [mid]).get(mid, [])) == 1
