//! `kefu-server`: serve, run the demo, back up and restore, and manage users from the command
//! line.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use kefu_model::enums::Role;
use kefu_server::auth::{self, NewUser};
use kefu_server::db::Db;
use kefu_server::{app, AppState, ServerError};
use kefu_server::{backup, demo};

/// jemalloc instead of glibc's allocator (docs/performance.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Parser)]
#[command(name = "kefu-server", version, about = "Kefu 客服 sync server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTP until SIGTERM or Ctrl-C.
    Serve {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, env = "KEFU_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Data directory.
        #[arg(long, env = "KEFU_DATA", default_value = "./kefu-data")]
        data: PathBuf,
    },
    /// Seed a demo department (only into a data directory without users), then serve it like
    /// `serve` and print the endpoints and the demo logins.
    Demo {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, env = "KEFU_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Data directory.
        #[arg(long, env = "KEFU_DATA", default_value = "./kefu-data")]
        data: PathBuf,
    },
    /// Write a consistent copy of the database to a new file; safe while the server runs.
    Backup {
        /// Data directory.
        #[arg(long, env = "KEFU_DATA", default_value = "./kefu-data")]
        data: PathBuf,
        /// The backup file to create (an existing file is never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Replace the database with a backup. Stop the server first: restore must not run while
    /// a server uses the data directory. The current database is moved aside, not deleted.
    Restore {
        /// Data directory.
        #[arg(long, env = "KEFU_DATA", default_value = "./kefu-data")]
        data: PathBuf,
        /// The backup file (made by `kefu-server backup`).
        #[arg(long)]
        from: PathBuf,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from standard input.
    Add {
        /// Data directory.
        #[arg(long, env = "KEFU_DATA", default_value = "./kefu-data")]
        data: PathBuf,
        /// Sign-in name.
        #[arg(long)]
        username: String,
        /// field, agent, supervisor or admin.
        #[arg(long)]
        role: String,
        /// Team (required except for admins).
        #[arg(long)]
        team: Option<String>,
        /// Name shown in the UI.
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from standard input (required: passwords never go on the
        /// command line, where other users could see them).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            // automerge opens an info-level span in every load (the server's receive of each
            // sync message): formatting those was 3 % of the server's CPU on the benchmark's
            // field day, for lines nobody reads. Its warnings still show.
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,automerge=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<(), ServerError> {
    match cli.command {
        Command::Serve { listen, data } => serve(listen, data, |_| {}),
        Command::Demo { listen, data } => run_demo(listen, data),
        Command::Backup { data, out } => {
            let b = backup::backup(&data, &out)?;
            println!(
                "backed up {} to {} ({} bytes; schema version {}, {} users, {} documents)",
                data.join(backup::DB_FILE).display(),
                b.path.display(),
                b.bytes,
                b.facts.schema_version,
                b.facts.users,
                b.facts.documents
            );
            Ok(())
        }
        Command::Restore { data, from } => {
            let r = backup::restore(&data, &from)?;
            for old in &r.moved_aside {
                println!("moved the previous {} aside to {}", old.0, old.1.display());
            }
            println!(
                "restored {} into {} (schema version {}, {} users, {} documents); start the server to use it",
                from.display(),
                r.path.display(),
                r.facts.schema_version,
                r.facts.users,
                r.facts.documents
            );
            Ok(())
        }
        Command::User { command: UserCommand::Add { data, username, role, team, display_name, .. } } => {
            let role: Role = role.parse().map_err(|e| ServerError::BadRequest(format!("--role: {e}")))?;
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .map_err(|e| ServerError::BadRequest(format!("reading the password: {e}")))?;
            let password = password.trim_end_matches(['\n', '\r']);
            let db = Db::open(&data)?;
            let id = auth::add_user(
                &db.lock(),
                &NewUser { username: username.clone(), role, team, display_name },
                password,
            )?;
            println!("added user {username} ({role}) with id {id}");
            Ok(())
        }
    }
}

/// Seeds the demo department if `data` has no users, then serves it.
fn run_demo(listen: SocketAddr, data: PathBuf) -> Result<(), ServerError> {
    let seeded = {
        let db = Db::open(&data)?;
        demo::seed_if_empty(&db, auth::now_ms())?
    };
    match &seeded {
        Some(s) => println!(
            "seeded the demo department {} in {} in {:.2} s: {}",
            demo::DEMO_TEAM,
            data.display(),
            s.elapsed.as_secs_f64(),
            s.describe()
        ),
        None => println!("{} already holds data: not seeding the demo department again", data.display()),
    }
    serve(listen, data, move |addr| {
        println!("dashboard: http://{addr}/   (sign in as supervisor / kefu-demo-1; admin / kefu-demo-1 for users, devices, backups)");
        println!("sync endpoint: ws://{addr}/sync   manifest: http://{addr}/api/v1/manifest   metrics: http://{addr}/metrics");
        match &seeded {
            Some(s) => {
                println!("demo accounts (for trying Kefu only: the password is published, do not keep real data here):");
                println!("  {:<12} {:<13} {:<11} name", "username", "password", "role");
                for l in &s.logins {
                    let team = l.team.as_deref().map(|t| format!(" ({t})")).unwrap_or_default();
                    println!("  {:<12} {:<13} {:<11} {}{team}", l.username, l.password, l.role.as_str(), l.display_name);
                }
            }
            None => println!(
                "demo accounts, if this directory was seeded by `demo`: supervisor, agent1-3, field1-3, admin / {}",
                demo::DEMO_PASSWORD
            ),
        }
    })
}

/// Threads for blocking work.
const BLOCKING_THREADS: usize = 8;

/// Serves until SIGTERM or Ctrl-C; `after_listening` runs once the address is printed.
fn serve(
    listen: SocketAddr,
    data: PathBuf,
    after_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServerError> {
    let db = Db::open(&data)?;
    // Blocking work (SQLite, argon2, thumbnails) is serialised by the one database connection
    // and the one argon2 memory, so more threads than this only add allocator arenas, which
    // kept freed memory per thread and made the RSS a multiple of the live heap.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| ServerError::Config(format!("cannot listen on {listen}: {e}")))?;
        let addr = listener.local_addr().map_err(|e| ServerError::Internal(e.to_string()))?;
        println!("listening on http://{addr}");
        after_listening(addr);
        let attachment_limits = kefu_server::attachments::AttachmentLimits::from_env()?;
        let state = AppState::new(db, kefu_server::sync::Limits::from_env()?)
            .with_attachment_limits(attachment_limits);
        let shared = state.sync.clone();
        // Hourly: delete attachments no record refers to, and abandoned uploads, once they
        // are older than the retention period.
        let sweeper = state.db.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                every.tick().await;
                let db = sweeper.clone();
                let swept = tokio::task::spawn_blocking(move || {
                    kefu_server::attachments::sweep(
                        &mut db.lock(),
                        kefu_server::auth::now_ms(),
                        attachment_limits.retention_ms,
                    )
                })
                .await;
                match swept {
                    Ok(Ok(0)) => {}
                    Ok(Ok(n)) => tracing::info!(attachments = n, "deleted unreferenced attachments"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "attachment sweep failed"),
                    Err(e) => tracing::warn!(error = %e, "attachment sweep panicked"),
                }
            }
        });
        axum::serve(listener, app(state))
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                // Sync sockets are long-lived: tell them to close so the drain can finish.
                let n = shared.hub.close_all("server shutting down");
                tracing::info!(connections = n, "shutting down");
            })
            .await
            .map_err(|e| ServerError::Internal(e.to_string()))
    })?;
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
