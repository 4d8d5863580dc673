//! The Dashboard API's query endpoints: one SQL file each (`sql/<name>.sql`), and which
//! parameters each takes besides the range and the projects.

/// The queries of the Dashboard API, one SQL file each (`sql/<name>.sql`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// Events, visitors, sessions and their change against the previous period.
    Overview,
    /// Events per interval, optionally per event name.
    Timeseries,
    /// Most frequent track events.
    TopEvents,
    /// Most viewed pages.
    TopPages,
    /// Referring domains of page views.
    TopReferrers,
    /// Events and visitors per country.
    Countries,
    /// Session count, median length and bounce rate.
    Sessions,
    /// Ordered steps within a window (`windowFunnel`).
    Funnel,
    /// Recent events, filtered, paginated by cursor.
    Events,
}

impl Endpoint {
    /// Every endpoint, in the order the page shows them.
    pub const ALL: [Endpoint; 9] = [
        Self::Overview,
        Self::Timeseries,
        Self::TopEvents,
        Self::TopPages,
        Self::TopReferrers,
        Self::Countries,
        Self::Sessions,
        Self::Funnel,
        Self::Events,
    ];

    /// The name in `/api/<name>` and `sql/<name>.sql`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Overview => "overview",
            Self::Timeseries => "timeseries",
            Self::TopEvents => "top_events",
            Self::TopPages => "top_pages",
            Self::TopReferrers => "top_referrers",
            Self::Countries => "countries",
            Self::Sessions => "sessions",
            Self::Funnel => "funnel",
            Self::Events => "events",
        }
    }

    /// The endpoint called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Parameters this endpoint takes besides `from`, `to` and `key`.
    pub(crate) fn extra(self) -> &'static [&'static str] {
        match self {
            Self::Overview | Self::Sessions => &[],
            Self::Timeseries => &["interval", "event", "by_event", "limit"],
            Self::TopEvents | Self::TopPages | Self::TopReferrers | Self::Countries => &["limit"],
            Self::Funnel => &["step", "window"],
            Self::Events => &["type", "event", "user", "limit", "cursor"],
        }
    }
}
