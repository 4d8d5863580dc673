//! Size caps. The collector's defaults (`MAX_REQUEST_BYTES`, `MAX_EVENT_BYTES`) are these
//! values; senders stay under them so a well-formed batch is never refused for size.

/// Largest request body, in bytes, after gzip inflation (Segment's batch limit). The
/// collector answers 413 past it.
pub const MAX_REQUEST_BYTES: usize = 512_000;

/// Largest single event, in bytes of JSON (Segment's per-event limit). The collector
/// rejects a larger event individually and keeps the rest of the batch.
pub const MAX_EVENT_BYTES: usize = 32 * 1024;

/// Most events in one batch request. The collector answers 413 past it.
pub const MAX_BATCH_EVENTS: usize = 5_000;
