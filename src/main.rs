use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = hub::cli::Cli::parse();
    hub::telemetry::init();
    match hub::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hub: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}
