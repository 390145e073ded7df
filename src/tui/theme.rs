//! Styles. Colour only ever repeats what a word or symbol already says, and `NO_COLOR`
//! (https://no-color.org) turns it off: then only bold, dim and reverse video remain.

use ratatui::style::{Color, Modifier, Style};

use crate::chip::BootOutcome;
use crate::record::Outcome;
use crate::tui::rma::CheckState;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    colour: bool,
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to a non-empty value.
    pub fn from_env() -> Self {
        let no_colour = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self { colour: !no_colour }
    }

    pub fn colour() -> Self {
        Self { colour: true }
    }

    pub fn plain() -> Self {
        Self { colour: false }
    }

    fn fg(&self, colour: Color) -> Style {
        if self.colour {
            Style::new().fg(colour)
        } else {
            Style::new()
        }
    }

    /// The colour of a verdict: green, red, or yellow for the station's own trouble.
    pub fn outcome(&self, outcome: Outcome) -> Style {
        let colour = match outcome {
            Outcome::Pass => Color::Green,
            Outcome::Fail => Color::Red,
            Outcome::Error | Outcome::Timeout | Outcome::Aborted => Color::Yellow,
        };
        self.fg(colour).add_modifier(Modifier::BOLD)
    }

    /// A one-line verdict banner: reverse video, so it stands out without colour too.
    pub fn banner(&self, outcome: Outcome) -> Style {
        self.outcome(outcome).add_modifier(Modifier::REVERSED)
    }

    pub fn selected_border(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn dim(&self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    pub fn key(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    pub fn notice(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn progress(&self) -> Style {
        self.fg(Color::Cyan)
    }

    /// A cut point's outcome on the torture map; its letter says the same.
    pub fn boot(&self, outcome: BootOutcome) -> Style {
        self.fg(match outcome {
            BootOutcome::NewImage => Color::Green,
            BootOutcome::OldImage => Color::Blue,
            BootOutcome::InBootloader => Color::Yellow,
            BootOutcome::NeedsBoot0 => Color::LightRed,
            BootOutcome::CorruptApp => Color::Magenta,
            BootOutcome::Bricked => Color::Red,
        })
    }

    /// A point that bricks: reverse video, so it stands out without colour too.
    pub fn bricks(&self, outcome: BootOutcome) -> Style {
        self.boot(outcome)
            .add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    /// A flash check in the RMA view; its symbol says the same.
    pub fn check(&self, state: CheckState) -> Style {
        match state {
            CheckState::Good => self.fg(Color::Green),
            CheckState::Bad => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            CheckState::Unknown => self.fg(Color::Yellow),
        }
    }
}
