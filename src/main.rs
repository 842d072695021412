//! The command line: parses, then calls the library.

use clap::{Args, Parser, Subcommand};

use switchboard::config::{DatabaseArgs, LogArgs, ServeArgs};
use switchboard::domain::Secret;
use switchboard::services::seed::{self, SeedOutcome, SeedPlan};
use switchboard::startup::{open_database, Application};
use switchboard::telemetry;

/// mimalloc rather than glibc's malloc: glibc keeps what each thread once borrowed in that
/// thread's arena (the 19 MiB of every argon2 hash: 210 MB resident before the first
/// connection, against 57 MB), and an idle WebSocket connection costs 14.0 KiB instead of
/// 15.8 (docs/PERFORMANCE.md, change 17).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// With no subcommand, `serve` runs with these settings.
    #[command(flatten)]
    serve: ServeArgs,

    #[command(flatten)]
    log: LogArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (the default). Applies pending migrations first.
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Fill the database with demo data (only a fresh one; a second run changes nothing).
    Seed(SeedArgs),
    /// Print the GraphQL schema (SDL), as docs/schema.graphql holds it.
    GraphqlSchema,
    /// Measure a server with named scenarios (lab, rest, graphql, ws-echo, ws-fanout,
    /// ws-hold); without --url, starts one on a temporary `seed --bench` database.
    Bench(Box<switchboard::bench::BenchArgs>),
}

#[derive(Debug, Args)]
struct SeedArgs {
    /// The fixed benchmark data set: 10,000 products, 1,000 users with 5 posts each.
    #[arg(long)]
    bench: bool,

    /// Number of products (ignored with --bench).
    #[arg(long, default_value_t = 100)]
    products: u32,

    /// Number of users (ignored with --bench).
    #[arg(long, default_value_t = 10)]
    users: u32,

    /// Posts per user (ignored with --bench).
    #[arg(long, default_value_t = 3)]
    posts_per_user: u32,

    /// Email of the admin account.
    #[arg(
        long,
        env = "SWITCHBOARD_ADMIN_EMAIL",
        default_value = "admin@example.com"
    )]
    admin_email: String,

    /// Password of the admin account; generated and printed once if not given.
    #[arg(long, env = "SWITCHBOARD_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<Secret>,

    /// The password every demo user shares.
    #[arg(
        long,
        env = "SWITCHBOARD_USER_PASSWORD",
        default_value = "switchboard",
        hide_env_values = true
    )]
    user_password: Secret,

    #[command(flatten)]
    database: DatabaseArgs,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(&cli.log);
    match cli.command {
        // The load generator runs its own multi-threaded runtime, outside actix's.
        Some(Command::Bench(args)) => switchboard::bench::run(*args),
        command => actix_web::rt::System::new().block_on(run(command, cli.serve)),
    }
}

async fn run(command: Option<Command>, serve_args: ServeArgs) -> anyhow::Result<()> {
    match command {
        None => serve(serve_args).await,
        Some(Command::Serve(args)) => serve(*args).await,
        Some(Command::Migrate(db)) => {
            open_database(&db.database_url, Some(1)).await?;
            println!("database is up to date");
            Ok(())
        }
        Some(Command::Seed(args)) => seed(args).await,
        Some(Command::GraphqlSchema) => {
            print!("{}", switchboard::graphql::sdl());
            Ok(())
        }
        Some(Command::Bench(_)) => unreachable!("bench runs outside the actix system"),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let app = Application::build(args).await?;
    app.run_until_stopped().await?;
    tracing::info!("switchboard stopped");
    Ok(())
}

async fn seed(args: SeedArgs) -> anyhow::Result<()> {
    let (products, users, posts_per_user) = if args.bench {
        SeedPlan::BENCH
    } else {
        (args.products, args.users, args.posts_per_user)
    };
    let plan = SeedPlan {
        products,
        users,
        posts_per_user,
        admin_email: args.admin_email,
        admin_password: args.admin_password,
        user_password: args.user_password,
    };
    let db = open_database(&args.database.database_url, Some(1)).await?;
    let outcome = db
        .run(move |conn| seed::run(conn, &plan))
        .await
        .map_err(|e| anyhow::anyhow!("{e}: {}", detail(&e)))?;
    match outcome {
        SeedOutcome::AlreadySeeded => println!("the demo data is already there; nothing changed"),
        SeedOutcome::Seeded {
            products,
            users,
            posts,
            admin_email,
            generated_admin_password,
        } => {
            println!("seeded {products} products, {users} users (user1@example.com ...) and {posts} posts");
            match generated_admin_password {
                Some(password) => println!(
                    "admin account: {admin_email} with generated password {} (shown only now)",
                    password.expose()
                ),
                None => println!("admin account: {admin_email} with the password you gave"),
            }
        }
    }
    Ok(())
}

fn detail(err: &switchboard::error::AppError) -> String {
    match err {
        switchboard::error::AppError::Validation(errors) => errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}
