//! `dashboard-admin`: the dashboard's small operator command.
//!
//! ```text
//! dashboard-admin hash-password            < password    prints a DASHBOARD_USERS hash
//! dashboard-admin user <name> <key id|write key>... < password
//!                                                       prints a whole DASHBOARD_USERS entry
//! dashboard-admin mint-token --sub <name> --keys <id|id> [--hours N]
//!                                                       prints a token (JWT_SECRET from the environment)
//! dashboard-admin key-id <write key>                    prints the key's write_key_id
//! ```

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use ingest_core::dashboard::jwt;
    use ingest_core::dashboard::password::{ITERATIONS, PasswordHash};
    use ingest_core::dashboard::users::{is_key_id, is_user_name, parse_keys};
    use std::io::Read as _;

    const USAGE: &str = "usage: dashboard-admin hash-password | user <name> <key>... | mint-token --sub <name> --keys <id|id> [--hours N] | key-id <write key>  (passwords are read from stdin)";

    fn random<const N: usize>() -> Result<[u8; N], String> {
        let mut b = [0u8; N];
        getrandom::fill(&mut b).map_err(|e| format!("no randomness: {e}"))?;
        Ok(b)
    }

    fn password_from_stdin() -> Result<String, String> {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| e.to_string())?;
        let p = s.trim_end_matches(['\n', '\r']).to_string();
        if p.is_empty() {
            return Err("give the password on stdin".into());
        }
        Ok(p)
    }

    /// The write_key_id of a key: the first 16 hex digits of its SHA-256.
    fn key_id(key: &str) -> String {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(key.as_bytes());
        hex::encode(d.get(..8).unwrap_or_default())
    }

    fn hash() -> Result<String, String> {
        Ok(PasswordHash::new(&password_from_stdin()?, random()?, ITERATIONS).to_string())
    }

    fn user(args: &[String]) -> Result<String, String> {
        let (name, keys) = args.split_first().ok_or(USAGE)?;
        if !is_user_name(name) || keys.is_empty() {
            return Err(USAGE.into());
        }
        let ids: Vec<String> = keys
            .iter()
            .map(|k| if is_key_id(k) { k.clone() } else { key_id(k) })
            .collect();
        Ok(format!("{name}:{}:{}", hash()?, ids.join("|")))
    }

    fn mint(args: &[String]) -> Result<String, String> {
        let mut sub = None;
        let mut keys = None;
        let mut hours: i64 = 24;
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it.next().ok_or(USAGE)?;
            match flag.as_str() {
                "--sub" => sub = Some(value.clone()),
                "--keys" => keys = Some(parse_keys(value).map_err(|e| format!("--keys {e}"))?),
                "--hours" => {
                    hours = value
                        .parse()
                        .ok()
                        .filter(|h| (1..=8760).contains(h))
                        .ok_or("--hours must be 1..=8760")?
                }
                _ => return Err(USAGE.into()),
            }
        }
        let secret =
            std::env::var("JWT_SECRET").map_err(|_| "set JWT_SECRET in the environment")?;
        if secret.len() < 32 {
            return Err("JWT_SECRET must be at least 32 bytes".into());
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let now = i64::try_from(now).map_err(|e| e.to_string())?;
        let claims = jwt::claims(
            &sub.ok_or(USAGE)?,
            keys.ok_or(USAGE)?,
            now,
            hours * 3600,
            random()?,
        );
        Ok(jwt::sign(secret.as_bytes(), &claims))
    }

    /// Run the command named by the arguments; the output line, or an error.
    pub fn run(args: &[String]) -> Result<String, String> {
        match args.split_first() {
            Some((cmd, rest)) => match cmd.as_str() {
                "hash-password" if rest.is_empty() => hash(),
                "user" => user(rest),
                "mint-token" => mint(rest),
                "key-id" => match rest {
                    [key] => Ok(key_id(key)),
                    _ => Err(USAGE.into()),
                },
                _ => Err(USAGE.into()),
            },
            None => Err(USAGE.into()),
        }
    }
}

fn main() {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let args: Vec<String> = std::env::args().skip(1).collect();
        match cli::run(&args) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("dashboard-admin: {e}");
                std::process::exit(2);
            }
        }
    }
}
