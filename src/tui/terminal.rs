//! The real terminal: raw mode and the alternate screen, always given back: on return, on
//! error and on panic.

use std::io::{self, Stdout};
use std::panic::PanicHookInfo;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, ThreadId};

use crossterm::cursor::Show;
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

type PanicHook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Panics on background threads while the screen is ours, printed once it is given back
/// (printing them at once would scribble over the screen).
static BACKGROUND_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

pub struct TerminalSession {
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
    // Dropped after `terminal`.
    _screen: ScreenGuard,
}

impl TerminalSession {
    pub fn enter() -> io::Result<Self> {
        let screen = ScreenGuard {
            previous_hook: install_panic_hook(),
        };
        enable_raw_mode()?;
        execute!(io::stdout(), EnterAlternateScreen)?;
        let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        Ok(Self {
            terminal,
            _screen: screen,
        })
    }
}

struct ScreenGuard {
    previous_hook: Arc<PanicHook>,
}

impl Drop for ScreenGuard {
    fn drop(&mut self) {
        restore_screen();
        // Setting a hook from a panicking thread would abort; the process is ending anyway.
        if !thread::panicking() {
            let previous = self.previous_hook.clone();
            let _ = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| previous(info)));
        }
        let panics = std::mem::take(
            &mut *BACKGROUND_PANICS
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for panic in panics {
            eprintln!("a background thread panicked: {panic}");
        }
    }
}

fn restore_screen() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
}

/// On the UI thread: give the screen back, then report as before. Elsewhere: keep the message
/// for later.
fn install_panic_hook() -> Arc<PanicHook> {
    let previous: Arc<PanicHook> = Arc::new(std::panic::take_hook());
    let ui_thread: ThreadId = thread::current().id();
    let chained = previous.clone();
    std::panic::set_hook(Box::new(move |info| {
        if thread::current().id() == ui_thread {
            restore_screen();
            chained(info);
        } else {
            BACKGROUND_PANICS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(info.to_string());
        }
    }));
    previous
}
