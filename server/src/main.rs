//! `kefu-server`: serve, and manage users from the command line.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use kefu_model::enums::Role;
use kefu_server::auth::{self, NewUser};
use kefu_server::db::Db;
use kefu_server::{app, AppState, ServerError};

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
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
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
        Command::Serve { listen, data } => serve(listen, data),
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

fn serve(listen: SocketAddr, data: PathBuf) -> Result<(), ServerError> {
    let db = Db::open(&data)?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| ServerError::Internal(e.to_string()))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| ServerError::Config(format!("cannot listen on {listen}: {e}")))?;
        let addr = listener.local_addr().map_err(|e| ServerError::Internal(e.to_string()))?;
        println!("listening on http://{addr}");
        axum::serve(listener, app(AppState { db }))
            .with_graceful_shutdown(shutdown_signal())
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
