//! The benchmark payload: a Segment batch shaped like analytics.js output.

/// An n-event batch shaped like analytics.js output.
pub fn batch(n: usize) -> String {
    let events: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"type":"track","event":"Product Viewed","userId":"user-{i}","anonymousId":"4a7c1f0e-2b1d-4c59-9d4e-{i:012}","messageId":"ajs-next-{i:032}","timestamp":"2026-11-25T10:00:00.{ms:03}Z","properties":{{"product_id":"507f1f77bcf86cd799439011","sku":"G-32","category":"Games","name":"Monopoly: 3rd Edition","brand":"Hasbro","variant":"200 pieces","price":18.99,"quantity":1,"coupon":"MAYDEALS","currency":"usd","position":3,"value":18.99,"url":"https://www.example.com/product/path","image_url":"https://www.example.com/product/path.jpg"}},"context":{{"library":{{"name":"analytics.js","version":"next-1.70.0"}},"page":{{"path":"/academy/","referrer":"https://www.example.com/","search":"","title":"Analytics Academy","url":"https://segment.com/academy/"}},"userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36","locale":"en-US","campaign":{{"name":"TPS Innovation Newsletter","source":"Newsletter","medium":"email"}}}},"integrations":{{}}}}"#,
                ms = i % 1000
            )
        })
        .collect();
    format!(
        r#"{{"batch":[{}],"sentAt":"2026-11-25T10:00:01.000Z","writeKey":"bench_key"}}"#,
        events.join(",")
    )
}
