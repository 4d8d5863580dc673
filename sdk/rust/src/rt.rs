//! The few things that differ between native (tokio) and the browser (wasm-bindgen).

use crate::Inner;
use std::sync::{Arc, Weak};
use std::time::Duration;

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::*;

    pub fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
        reqwest::Client::builder()
            .timeout(timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| e.to_string())
    }

    pub fn now_ms() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }

    pub async fn sleep(d: Duration) {
        tokio::time::sleep(d).await;
    }

    /// Flush in the background if a tokio runtime is running (else the next explicit
    /// flush or the interval sends the batch).
    pub fn spawn_flush(inner: Arc<Inner>) {
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            h.spawn(async move {
                let _ = crate::flush(&inner).await;
            });
        }
    }

    /// Flush every `flush_interval` until the client is dropped.
    pub fn start_interval(weak: Weak<Inner>) {
        let Ok(h) = tokio::runtime::Handle::try_current() else {
            return;
        };
        h.spawn(async move {
            loop {
                let Some(every) = weak.upgrade().map(|i| i.s.flush_interval) else {
                    return;
                };
                tokio::time::sleep(every).await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                let _ = crate::flush(&inner).await;
            }
        });
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::*;

    pub fn http_client(_timeout: Duration) -> Result<reqwest::Client, String> {
        reqwest::Client::builder()
            .build()
            .map_err(|e| e.to_string())
    }

    pub fn now_ms() -> i64 {
        js_sys::Date::now() as i64
    }

    pub async fn sleep(d: Duration) {
        gloo_timers::future::sleep(d).await;
    }

    pub fn spawn_flush(inner: Arc<Inner>) {
        wasm_bindgen_futures::spawn_local(async move {
            let _ = crate::flush(&inner).await;
        });
    }

    pub fn start_interval(weak: Weak<Inner>) {
        wasm_bindgen_futures::spawn_local(async move {
            loop {
                let Some(every) = weak.upgrade().map(|i| i.s.flush_interval) else {
                    return;
                };
                gloo_timers::future::sleep(every).await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                let _ = crate::flush(&inner).await;
            }
        });
    }
}

pub use imp::*;
