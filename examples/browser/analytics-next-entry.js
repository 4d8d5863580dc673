// Entry for the analytics-next bundle the example page serves from its own origin
// (Segment's CDN is not needed: settings come from the collector's /v1/projects/:key/settings).
export { AnalyticsBrowser } from '@segment/analytics-next'
