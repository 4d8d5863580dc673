use super::*;

fn run(json: &str, route: Option<Kind>) -> Result<Checked<'_>, Reject> {
    let obj = RawObject::parse(json).unwrap();
    // The borrow of `obj` ends here: Checked only borrows from the text.
    let r = check(&obj, route, json.len(), 32 * 1024);
    r.map(|c| Checked {
        message_id: c.message_id.map(|m| Cow::Owned(m.into_owned())),
        ..c
    })
}

#[test]
fn validation_table() {
    let cases: &[(&str, Option<Kind>, Option<&str>)] = &[
        (r#"{"type":"track","event":"A","userId":"u"}"#, None, None),
        (
            r#"{"type":"track","event":"A","anonymousId":"a"}"#,
            None,
            None,
        ),
        (r#"{"type":"track","event":"A","userId":42}"#, None, None),
        (r#"{"event":"A","userId":"u"}"#, Some(Kind::Track), None),
        (r#"{"event":"A","userId":"u"}"#, None, Some("type")),
        (r#"{"type":"buy","userId":"u"}"#, None, Some("type")),
        (r#"{"type":7,"userId":"u"}"#, None, Some("type")),
        (r#"{"type":"track","userId":"u"}"#, None, Some("event")),
        (
            r#"{"type":"track","event":"","userId":"u"}"#,
            None,
            Some("event"),
        ),
        (
            r#"{"type":"track","event":5,"userId":"u"}"#,
            None,
            Some("event"),
        ),
        (r#"{"type":"track","event":"A"}"#, None, Some("userId")),
        (
            r#"{"type":"track","event":"A","userId":"","anonymousId":null}"#,
            None,
            Some("userId"),
        ),
        (
            r#"{"type":"track","event":"A","userId":{"x":1}}"#,
            None,
            Some("userId"),
        ),
        (
            r#"{"type":"track","event":"A","userId":"u","properties":[1]}"#,
            None,
            Some("properties"),
        ),
        (
            r#"{"type":"track","event":"A","userId":"u","properties":null}"#,
            None,
            None,
        ),
        (
            r#"{"type":"identify","userId":"u","traits":"x"}"#,
            None,
            Some("traits"),
        ),
        (
            r#"{"type":"identify","userId":"u","context":1}"#,
            None,
            Some("context"),
        ),
        (
            r#"{"type":"identify","userId":"u","timestamp":"2024-01-01T00:00:00Z"}"#,
            None,
            None,
        ),
        (
            r#"{"type":"identify","userId":"u","timestamp":"last week"}"#,
            None,
            Some("timestamp"),
        ),
        (
            r#"{"type":"identify","userId":"u","timestamp":1700000000}"#,
            None,
            Some("timestamp"),
        ),
        (
            r#"{"type":"identify","userId":"u","sentAt":"nope"}"#,
            None,
            Some("sentAt"),
        ),
        (r#"{"type":"group","userId":"u","groupId":"g"}"#, None, None),
        (r#"{"type":"group","userId":"u"}"#, None, Some("groupId")),
        (
            r#"{"type":"alias","userId":"u","previousId":"p"}"#,
            None,
            None,
        ),
        (
            r#"{"type":"alias","anonymousId":"a","previousId":"p"}"#,
            None,
            Some("userId"),
        ),
        (r#"{"type":"alias","userId":"u"}"#, None, Some("previousId")),
        (r#"{"type":"page","userId":"u","name":"Home"}"#, None, None),
        (
            r#"{"type":"screen","userId":"u","name":3}"#,
            None,
            Some("name"),
        ),
        (
            r#"{"type":"page","userId":"u","messageId":7}"#,
            None,
            Some("messageId"),
        ),
    ];
    for (json, route, want_field) in cases {
        let got = run(json, *route);
        match want_field {
            None => assert!(got.is_ok(), "{json}: {got:?}"),
            Some(f) => assert_eq!(got.unwrap_err().field, Some(*f), "{json}"),
        }
    }
}

#[test]
fn numbers_become_string_ids_and_timestamps_are_read() {
    let c = run(
        r#"{"type":"track","event":"A","userId":42,"messageId":"m1","originalTimestamp":"2024-01-01T00:00:00Z","sentAt":"2024-01-01T00:00:01Z"}"#,
        None,
    )
    .unwrap();
    assert_eq!(c.user_id.as_deref(), Some("42"));
    assert_eq!(c.message_id.as_deref(), Some("m1"));
    assert_eq!(c.client_ts_ms, Some(1_704_067_200_000));
    assert_eq!(c.sent_at_ms, Some(1_704_067_201_000));
}

#[test]
fn oversized_event_is_rejected_without_field() {
    let obj = RawObject::parse(r#"{"type":"track","event":"A","userId":"u"}"#).unwrap();
    let r = check(&obj, None, 40_000, 32_768).unwrap_err();
    assert_eq!(r.field, None);
    assert!(r.reason.contains("32768"));
}
