//! Block letters for the verdict: five rows of `█`, so PASS or FAIL reads from across the
//! room, and still reads as a word without colour.

pub const HEIGHT: usize = 5;
const GLYPH_WIDTH: usize = 5;

/// Each row of a glyph, `#` for a filled cell.
fn glyph(c: char) -> [&'static str; HEIGHT] {
    match c {
        'A' => [" ### ", "#   #", "#####", "#   #", "#   #"],
        'B' => ["#### ", "#   #", "#### ", "#   #", "#### "],
        'D' => ["#### ", "#   #", "#   #", "#   #", "#### "],
        'E' => ["#####", "#    ", "#### ", "#    ", "#####"],
        'F' => ["#####", "#    ", "#### ", "#    ", "#    "],
        'I' => ["#####", "  #  ", "  #  ", "  #  ", "#####"],
        'L' => ["#    ", "#    ", "#    ", "#    ", "#####"],
        'M' => ["#   #", "## ##", "# # #", "#   #", "#   #"],
        'O' => [" ### ", "#   #", "#   #", "#   #", " ### "],
        'P' => ["#### ", "#   #", "#### ", "#    ", "#    "],
        'R' => ["#### ", "#   #", "#### ", "#  # ", "#   #"],
        'S' => [" ####", "#    ", " ### ", "    #", "#### "],
        'T' => ["#####", "  #  ", "  #  ", "  #  ", "  #  "],
        'U' => ["#   #", "#   #", "#   #", "#   #", " ### "],
        _ => ["     "; HEIGHT],
    }
}

/// Columns `word` takes: five per letter, one between letters.
pub fn width(word: &str) -> usize {
    let n = word.chars().count();
    (n * (GLYPH_WIDTH + 1)).saturating_sub(1)
}

/// The word's rows, ready to print.
pub fn rows(word: &str) -> Vec<String> {
    (0..HEIGHT)
        .map(|row| {
            word.chars()
                .map(|c| glyph(c.to_ascii_uppercase())[row].replace('#', "█"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_as_wide_as_width_says() {
        for word in ["PASS", "FAIL", "ERROR", "TIMEOUT", "ABORTED"] {
            let rows = rows(word);
            assert_eq!(rows.len(), HEIGHT);
            assert!(
                rows.iter().all(|r| r.chars().count() == width(word)),
                "{word}"
            );
        }
    }
}
