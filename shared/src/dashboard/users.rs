//! The dashboard's users, from `DASHBOARD_USERS`: a comma list of
//! `<name>:<password hash>:<write-key id>|<write-key id>…`. Only salted hashes are held
//! (see [`super::password`]); each user may read the listed projects.

use super::password::PasswordHash;

/// One user who may log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name.
    pub name: String,
    hash: PasswordHash,
    /// Write-key ids this user's tokens may read.
    pub keys: Vec<String>,
}

/// The configured users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Users(Vec<User>);

/// Whether `s` is a write-key id: 16 lower-case hex digits (first 16 hex of sha256(key)).
pub fn is_key_id(s: &str) -> bool {
    s.len() == 16
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A user name: 1–64 characters of `[A-Za-z0-9._@-]`.
pub fn is_user_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'))
}

/// Parse a `|`-separated list of write-key ids (for users and minted tokens).
pub fn parse_keys(list: &str) -> Result<Vec<String>, String> {
    let keys: Vec<String> = list
        .split('|')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect();
    if keys.is_empty() {
        return Err("names no write-key id".into());
    }
    match keys.iter().find(|k| !is_key_id(k)) {
        Some(_) => Err("has a write-key id that is not 16 lower-case hex digits (the write_key_id column; `dashboard-admin key-id <key>` prints it)".into()),
        None => Ok(keys),
    }
}

impl Users {
    /// Parse `DASHBOARD_USERS`. Errors name the entry's position, never a hash.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut users = Vec::new();
        for (i, entry) in list.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let bad = |why: &str| format!("DASHBOARD_USERS entry {}: {why}", i + 1);
            let mut parts = entry.splitn(3, ':');
            let (Some(name), Some(hash), Some(keys)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(bad("expected <name>:<hash>:<key id>|<key id>"));
            };
            if !is_user_name(name) {
                return Err(bad("the name must be 1-64 of A-Z a-z 0-9 . _ @ -"));
            }
            if users.iter().any(|u: &User| u.name == name) {
                return Err(bad("the name is listed twice"));
            }
            let hash = PasswordHash::parse(hash).map_err(|e| bad(&format!("the hash {e}")))?;
            let keys = parse_keys(keys).map_err(|e| bad(&format!("the key list {e}")))?;
            users.push(User {
                name: name.to_string(),
                hash,
                keys,
            });
        }
        Ok(Self(users))
    }

    /// Whether any user is configured (login is closed otherwise).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The user whose password matches. An unknown name costs the same hashing work as a
    /// wrong password, so timing does not tell which names exist.
    pub fn authenticate(&self, name: &str, password: &str) -> Option<&User> {
        match self.0.iter().find(|u| u.name == name) {
            Some(u) => u.hash.verify(password).then_some(u),
            None => {
                let decoy = self.0.first().map(|u| &u.hash);
                if let Some(h) = decoy {
                    let _ = h.verify(password);
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, password: &str, keys: &str) -> String {
        let h = PasswordHash::new(password, [9; 16], super::super::password::MIN_ITERATIONS);
        format!("{name}:{h}:{keys}")
    }

    #[test]
    fn users_log_in_with_their_password_only() {
        let list = format!(
            "{},{}",
            entry("alice", "pw-a", "00112233aabbccdd"),
            entry("bob", "pw-b", "00112233aabbccdd|ffeeddccbbaa9988")
        );
        let users = Users::parse(&list).unwrap();
        assert_eq!(users.authenticate("alice", "pw-a").unwrap().keys.len(), 1);
        assert_eq!(users.authenticate("bob", "pw-b").unwrap().keys.len(), 2);
        assert!(users.authenticate("alice", "pw-b").is_none());
        assert!(users.authenticate("carol", "pw-a").is_none());
    }

    #[test]
    fn bad_entries_name_their_position_and_hide_the_hash() {
        let good = entry("alice", "pw", "00112233aabbccdd");
        for (list, want) in [
            (
                format!("{good},bob:plain:00112233aabbccdd"),
                "entry 2: the hash",
            ),
            (entry("alice", "pw", "WRITEKEY"), "entry 1: the key list"),
            (
                entry("al ice", "pw", "00112233aabbccdd"),
                "entry 1: the name",
            ),
            (
                format!("{good},{good}"),
                "entry 2: the name is listed twice",
            ),
            ("alice".to_string(), "entry 1: expected"),
        ] {
            let err = Users::parse(&list).unwrap_err();
            assert!(err.contains(want), "{err}");
            assert!(!err.contains("pbkdf2-sha256$"), "{err}");
        }
        assert!(Users::parse("").unwrap().is_empty());
    }
}
