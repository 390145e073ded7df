fn main() -> std::process::ExitCode {
    // Before any thread starts: the TUI reads resizes from the terminal's size, never from
    // SIGWINCH (see `tui::ignore_resize_signals`).
    station::tui::ignore_resize_signals();
    station::cli::main()
}
