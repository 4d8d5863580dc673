//! The web page: its HTML (here), its script and stylesheet (bundled at build time from
//! `functions/dashboard/web`, uPlot included, and handed in as [`Assets`]), and the
//! security headers every reply of the dashboard carries: a CSP that allows only this
//! origin's script and style (no inline code, nothing from a CDN), no framing, nosniff.

use crate::Reply;

/// Where the page loads its script from.
pub const SCRIPT_PATH: &str = "/assets/app.js";
/// Where the page loads its stylesheet from.
pub const STYLE_PATH: &str = "/assets/app.css";

/// The bundled script and stylesheet, embedded in the function at build time.
#[derive(Debug, Clone, Copy)]
pub struct Assets {
    /// `app.js`: the page's code with the charting library.
    pub script: &'static str,
    /// `app.css`: the page's and the charting library's styles.
    pub style: &'static str,
}

const HTML: &str = include_str!("page.html");

/// The Content-Security-Policy of every reply.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Add the security headers.
pub fn secure(reply: &mut Reply) {
    reply.set_header("content-security-policy", CSP.into());
    reply.set_header("x-content-type-options", "nosniff".into());
    reply.set_header("x-frame-options", "DENY".into());
    reply.set_header("referrer-policy", "no-referrer".into());
    reply.set_header("strict-transport-security", "max-age=31536000".into());
    reply.set_header("cross-origin-opener-policy", "same-origin".into());
}

fn text(body: &str, content_type: &str, cache: &str) -> Reply {
    let mut r = Reply::json(200, body.to_string());
    r.set_header("content-type", content_type.into());
    r.set_header("cache-control", cache.into());
    r
}

/// `GET /`.
pub fn index() -> Reply {
    text(HTML, "text/html; charset=utf-8", "no-cache")
}

/// `GET /assets/app.js`.
pub fn script(assets: &Assets) -> Reply {
    text(
        assets.script,
        "text/javascript; charset=utf-8",
        "public, max-age=300",
    )
}

/// `GET /assets/app.css`.
pub fn style(assets: &Assets) -> Reply {
    text(
        assets.style,
        "text/css; charset=utf-8",
        "public, max-age=300",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_no_inline_code_and_loads_only_its_own_assets() {
        assert!(HTML.contains(&format!("<script src=\"{SCRIPT_PATH}\" defer></script>")));
        assert!(HTML.contains(&format!("<link rel=\"stylesheet\" href=\"{STYLE_PATH}\">")));
        assert_eq!(
            HTML.matches("<script").count(),
            1,
            "one external script, nothing inline"
        );
        assert!(!HTML.contains("style=") && !HTML.contains("<style") && !HTML.contains(" on"));
        assert!(
            !HTML.contains("http://") && !HTML.contains("https://"),
            "nothing from elsewhere"
        );
    }

    #[test]
    fn every_reply_gets_the_security_headers() {
        let mut r = index();
        secure(&mut r);
        assert!(
            r.header("content-security-policy")
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        assert!(
            !r.header("content-security-policy")
                .unwrap()
                .contains("unsafe-inline")
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    }
}
