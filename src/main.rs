fn main() -> std::process::ExitCode {
    station::cli::main()
}
