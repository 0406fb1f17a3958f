//! Accounts, devices and tokens. Passwords are hashed with argon2id; tokens are 32 random bytes
//! shown once to the client and stored only as their SHA-256.

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use kefu_model::enums::Role;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ServerError;

/// How long a token is valid.
pub const TOKEN_LIFETIME_MS: i64 = 30 * 24 * 3_600_000;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn random_bytes<const N: usize>() -> Result<[u8; N], ServerError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| ServerError::Internal(format!("no randomness: {e}")))?;
    Ok(b)
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A new user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Sign-in name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Team (required for field staff, agents and supervisors).
    pub team: Option<String>,
    /// Name shown in the UI.
    pub display_name: Option<String>,
}

/// Creates a user; returns the user id.
pub fn add_user(conn: &Connection, user: &NewUser, password: &str) -> Result<String, ServerError> {
    let username = user.username.trim();
    if username.is_empty() || username.chars().count() > 64 || username.chars().any(char::is_whitespace) {
        return Err(ServerError::BadRequest("username must be 1–64 characters without spaces".into()));
    }
    if password.chars().count() < 8 {
        return Err(ServerError::BadRequest("password must be at least 8 characters".into()));
    }
    if user.role != Role::Admin && user.team.as_deref().is_none_or(|t| t.trim().is_empty()) {
        return Err(ServerError::BadRequest(format!("a {} needs a team (--team)", user.role)));
    }
    let exists: bool = conn
        .query_row("SELECT count(*) FROM users WHERE username = ?1", [username], |r| r.get::<_, i64>(0))?
        > 0;
    if exists {
        return Err(ServerError::BadRequest(format!("user {username:?} already exists")));
    }
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| ServerError::Internal(format!("salt: {e}")))?;
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| ServerError::Internal(format!("hashing: {e}")))?
        .to_string();
    let id = format!("u-{}", hex(&random_bytes::<8>()?));
    conn.execute(
        "INSERT INTO users (id, username, display_name, role, team, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id,
            username,
            user.display_name.clone().unwrap_or_else(|| username.to_string()),
            user.role.as_str(),
            user.team,
            hash,
            now_ms()
        ],
    )?;
    Ok(id)
}

/// What a successful sign-in returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoginResponse {
    /// Bearer token (shown once).
    pub token: String,
    /// User id.
    pub user_id: String,
    /// The device this token belongs to.
    pub device_id: String,
    /// Role.
    pub role: String,
    /// Expiry, Unix ms.
    pub expires_at: i64,
    /// Team (absent for admins).
    #[serde(default)]
    pub team: Option<String>,
    /// Name shown in the UI.
    #[serde(default)]
    pub display_name: String,
}

/// The stored password hash of an enabled user: (user id, role, hash).
pub fn find_login(
    conn: &Connection,
    username: &str,
) -> Result<Option<(String, String, String)>, ServerError> {
    Ok(conn
        .query_row(
            "SELECT id, role, password_hash FROM users WHERE username = ?1 AND disabled_at IS NULL",
            [username],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

/// The memory argon2 works in (19 MiB with the default parameters), allocated once and
/// reused by every sign-in, one at a time. Letting each verification allocate its own made a
/// burst of sign-ins cost one such block per blocking thread, kept by the allocator long
/// after (docs/performance.md); one at a time is also what two cores can do anyway.
static ARGON2_MEMORY: std::sync::Mutex<Vec<argon2::Block>> = std::sync::Mutex::new(Vec::new());

/// argon2 into `out` in the shared memory.
fn argon2_shared(
    algorithm: argon2::Algorithm,
    version: argon2::Version,
    params: argon2::Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let blocks = params.block_count();
    let mut memory = ARGON2_MEMORY.lock().unwrap_or_else(|p| p.into_inner());
    if memory.len() < blocks {
        memory.resize(blocks, argon2::Block::default());
    }
    Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password,
        salt,
        out,
        &mut memory[..blocks],
    )
}

/// Checks a password against a stored hash (slow on purpose: call off the async threads). The
/// parameters come from the stored hash, so hashes made with other parameters still verify.
pub fn password_matches(hash: &str, password: &str) -> bool {
    use argon2::password_hash::Output;
    let Ok(h) = PasswordHash::new(hash) else { return false };
    let (Ok(algorithm), Ok(params)) =
        (argon2::Algorithm::try_from(h.algorithm), argon2::Params::try_from(&h))
    else {
        return false;
    };
    let Ok(version) = h.version.map(argon2::Version::try_from).transpose() else { return false };
    let (Some(salt), Some(expected)) = (h.salt, h.hash) else { return false };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    let mut out = vec![0u8; expected.len()];
    if argon2_shared(algorithm, version.unwrap_or_default(), params, password.as_bytes(), salt, &mut out)
        .is_err()
    {
        return false;
    }
    // Output's equality is constant-time.
    Output::new(&out).is_ok_and(|o| o == expected)
}

/// A dummy verification so that an unknown username costs as much time as a wrong password.
pub fn burn_time(password: &str) {
    let mut out = [0u8; 32];
    let _ = argon2_shared(
        argon2::Algorithm::default(),
        argon2::Version::default(),
        argon2::Params::default(),
        password.as_bytes(),
        &[7u8; 16],
        &mut out,
    );
}

/// Registers a device for the user and issues its token.
pub fn issue_token(
    conn: &Connection,
    user_id: &str,
    role: &str,
    device_name: &str,
) -> Result<LoginResponse, ServerError> {
    let device_name = device_name.trim();
    if device_name.is_empty() || device_name.chars().count() > 100 {
        return Err(ServerError::BadRequest("device_name must be 1–100 characters".into()));
    }
    let now = now_ms();
    let device_id = format!("d-{}", hex(&random_bytes::<8>()?));
    let token = format!("kefu_{}", hex(&random_bytes::<32>()?));
    let expires_at = now + TOKEN_LIFETIME_MS;
    let tx = conn.unchecked_transaction()?;
    tx.execute(
        "INSERT INTO devices (id, user_id, name, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![device_id, user_id, device_name, now],
    )?;
    tx.execute(
        "INSERT INTO tokens (hash, user_id, device_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![token_hash(&token), user_id, device_id, now, expires_at],
    )?;
    tx.commit()?;
    let (team, display_name): (Option<String>, String) =
        conn.query_row("SELECT team, display_name FROM users WHERE id = ?1", [user_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    Ok(LoginResponse {
        token,
        user_id: user_id.to_string(),
        device_id,
        role: role.to_string(),
        expires_at,
        team,
        display_name,
    })
}

/// Who a valid token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User id.
    pub user_id: String,
    /// Device id.
    pub device_id: String,
    /// Role.
    pub role: Role,
    /// Team.
    pub team: Option<String>,
}

/// How stale a device's `last_seen_at` may get before a request refreshes it (one write a
/// minute per device at most, not one per request).
pub const LAST_SEEN_GRANULARITY_MS: i64 = 60_000;

/// Resolves a bearer token: unknown, expired, revoked device or disabled user → `None`. A
/// device's `last_seen_at` (the admin's device list) is brought up to date, to the minute.
pub fn principal(conn: &Connection, token: &str) -> Result<Option<Principal>, ServerError> {
    let now = now_ms();
    let row: Option<(String, String, String, Option<String>, i64)> = conn
        .query_row(
            "SELECT t.user_id, t.device_id, u.role, u.team, d.last_seen_at FROM tokens t \
             JOIN users u ON u.id = t.user_id JOIN devices d ON d.id = t.device_id \
             WHERE t.hash = ?1 AND t.expires_at > ?2 AND d.revoked_at IS NULL AND u.disabled_at IS NULL",
            params![token_hash(token), now],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((user_id, device_id, role, team, last_seen)) = row else { return Ok(None) };
    if now - last_seen >= LAST_SEEN_GRANULARITY_MS {
        conn.execute("UPDATE devices SET last_seen_at = ?1 WHERE id = ?2", params![now, device_id])?;
    }
    Ok(role.parse().ok().map(|role| Principal { user_id, device_id, role, team }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phc(password: &str, params: argon2::Params) -> String {
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap_or_else(|e| panic!("{e}"));
        Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(password.as_bytes(), &salt)
            .unwrap_or_else(|e| panic!("{e}"))
            .to_string()
    }

    #[test]
    fn passwords_verify_in_the_shared_memory_whatever_parameters_made_them() {
        let default = phc("correct horse", argon2::Params::default());
        assert!(password_matches(&default, "correct horse"));
        assert!(!password_matches(&default, "correct horse "));
        // A hash made with other (smaller) parameters, then the default again: the shared
        // memory is sized per hash.
        let small =
            phc("battery staple", argon2::Params::new(1024, 1, 1, None).unwrap_or_else(|e| panic!("{e}")));
        assert!(password_matches(&small, "battery staple"));
        assert!(!password_matches(&small, "correct horse"));
        assert!(password_matches(&default, "correct horse"));
        assert!(!password_matches("not a hash", "x"));
        assert!(!password_matches("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$", "x"));
    }
}
