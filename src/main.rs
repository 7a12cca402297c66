use clap::Parser;

use strata::cli::{Cli, CliCommand};

fn main() {
    let cli = Cli::parse();
    match cli.command {
        CliCommand::Frontend => strata::gateway::main(),
        command => {
            if let Err(e) = strata::cli::run(command) {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
    }
}
