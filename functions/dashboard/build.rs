//! Bundles the page's script (with uPlot from node_modules) and stylesheet with esbuild at
//! build time, into OUT_DIR, where `src/lib.rs` embeds them: the function serves its own
//! page and nothing loads from a CDN. esbuild comes from the repo's node_modules (npm
//! `esbuild`, pinned in package.json; `ESBUILD_BIN` overrides it).

use std::path::PathBuf;
use std::process::Command;

fn main() -> Result<(), String> {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let root = dir.join("../..");
    let esbuild = std::env::var("ESBUILD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("node_modules/@esbuild/linux-x64/bin/esbuild"));
    println!("cargo:rerun-if-changed=web");
    println!("cargo:rerun-if-env-changed=ESBUILD_BIN");
    for (input, output, extra) in [
        (
            "app.js",
            "app.js",
            &["--format=iife", "--target=es2020", "--platform=browser"][..],
        ),
        ("app.css", "app.css", &[][..]),
    ] {
        let status = Command::new(&esbuild)
            .arg(dir.join("web").join(input))
            .args(["--bundle", "--minify", "--log-level=warning", "--charset=utf8"])
            .args(extra)
            .arg(format!("--outfile={}", out.join(output).display()))
            .current_dir(&root)
            .status()
            .map_err(|e| {
                format!(
                    "cannot run esbuild at {} ({e}): run `npm ci` (scripts/setup does) or set ESBUILD_BIN",
                    esbuild.display()
                )
            })?;
        if !status.success() {
            return Err(format!("esbuild failed on web/{input}"));
        }
    }
    Ok(())
}
