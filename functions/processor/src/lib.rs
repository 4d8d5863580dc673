//! Processor entry points that are libraries: the Spin component, an HTTP-triggered drain
//! (`POST /drain`) for a scheduler to call (Spin's cron trigger, a SpinKube CronJob, or
//! any HTTP client). The native binary is `src/main.rs`; the Workers cron lives in the
//! collector's Worker. All of them run `ingest_core::drain`; the route itself is
//! `ingest_core::processor::serve`.

// spin-sdk's #[http_component] generates the component's export glue (unsafe).
#![cfg_attr(
    target_os = "wasi",
    allow(unsafe_code, reason = "spin-sdk export glue")
)]

/// Fermyon Spin / WASI HTTP component.
#[cfg(target_os = "wasi")]
mod spin {
    use ingest_core::drain::ProcessorConfig;
    use ingest_core::processor::serve;
    use platform::spin as s;
    use spin_sdk::http::{Request, Response};
    use spin_sdk::http_component;

    #[http_component]
    async fn handle(req: Request) -> Response {
        let dep = s::deployment();
        let run = ProcessorConfig::from_lookup(s::lookup).map_err(String::from);
        let auth = req.header("authorization").and_then(|v| v.as_str());
        let method = s::method_name(req.method());
        let dep = dep.as_ref().map_err(String::as_str);
        let run = run.as_ref().map_err(String::as_str);
        let (reply, log) = serve(dep, run, s::io, method, req.path(), auth).await;
        s::log(log);
        s::response(reply)
    }
}
