//! Accounts, devices and tokens. Passwords are hashed with argon2id; tokens are 32 random bytes
//! shown once to the client and stored only as their SHA-256.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
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

/// Checks a password against a stored hash (slow on purpose: call off the async threads).
pub fn password_matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A dummy verification so that an unknown username costs as much time as a wrong password.
pub fn burn_time(password: &str) {
    let salt = SaltString::encode_b64(&[7u8; 16]);
    if let Ok(salt) = salt {
        let _ = Argon2::default().hash_password(password.as_bytes(), &salt);
    }
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

/// Resolves a bearer token: unknown, expired, revoked device or disabled user → `None`.
pub fn principal(conn: &Connection, token: &str) -> Result<Option<Principal>, ServerError> {
    let row: Option<(String, String, String, Option<String>)> = conn
        .query_row(
            "SELECT t.user_id, t.device_id, u.role, u.team FROM tokens t \
             JOIN users u ON u.id = t.user_id JOIN devices d ON d.id = t.device_id \
             WHERE t.hash = ?1 AND t.expires_at > ?2 AND d.revoked_at IS NULL AND u.disabled_at IS NULL",
            params![token_hash(token), now_ms()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    Ok(row.and_then(|(user_id, device_id, role, team)| {
        role.parse().ok().map(|role| Principal { user_id, device_id, role, team })
    }))
}
