//! Tables that fit the terminal: cells of the widest columns wrap onto continuation lines so that
//! no line is longer than the width asked for (100 columns by default; `--wide` keeps one line
//! per row).

/// The width a table is fitted to unless `--wide` is given.
pub(crate) const WIDTH: usize = 100;

/// Columns are never narrowed below this (or their header, if longer).
const MIN_COLUMN: usize = 10;

/// The lines of `header` and `rows` as an aligned table at most `max` columns wide (`None`: as
/// wide as the cells need). Cells are wrapped at spaces; a word longer than its column is cut.
pub(crate) fn render(header: &[&str], rows: &[Vec<String>], max: Option<usize>) -> Vec<String> {
    render_rows(header, rows, max).concat()
}

/// As [`render`], the lines of each row apart (the header's first), so that a caller can put
/// a line of its own under a row.
pub(crate) fn render_rows(
    header: &[&str],
    rows: &[Vec<String>],
    max: Option<usize>,
) -> Vec<Vec<String>> {
    let count = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = header.iter().map(|h| count(h)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(count(cell));
        }
    }
    if let Some(max) = max {
        let longest_word = |i: usize| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .flat_map(|c| c.split(' '))
                .map(count)
                .max()
                .unwrap_or(0)
        };
        // Words whole if the table can fit so, else cut to MIN_COLUMN; the first column (the
        // row's name) is never narrowed.
        let whole: Vec<usize> = (0..widths.len())
            .map(|i| {
                if i == 0 {
                    widths[0]
                } else {
                    longest_word(i).max(count(header[i]))
                }
            })
            .collect();
        narrow(&mut widths, &whole, max);
        let cut: Vec<usize> = (0..widths.len())
            .map(|i| {
                if i == 0 {
                    widths[0]
                } else {
                    MIN_COLUMN.max(count(header[i]))
                }
            })
            .collect();
        narrow(&mut widths, &cut, max);
    }
    let lines = |cells: Vec<Vec<String>>| {
        let height = cells.iter().map(Vec::len).max().unwrap_or(1);
        let mut lines = Vec::with_capacity(height);
        for k in 0..height {
            let mut out = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let part = cell.get(k).map_or("", String::as_str);
                out.push_str(part);
                if i + 1 < cells.len() {
                    out.push_str(&" ".repeat(widths[i].saturating_sub(count(part)) + 2));
                }
            }
            lines.push(out.trim_end().to_string());
        }
        lines
    };
    let mut out = vec![lines(header.iter().map(|h| vec![h.to_string()]).collect())];
    for row in rows {
        out.push(lines(
            row.iter()
                .zip(&widths)
                .map(|(cell, w)| wrap(cell, *w))
                .collect(),
        ));
    }
    out
}

/// Narrows the widest columns, one character at a time, until the table fits `max` or no
/// column is above its `floor`.
fn narrow(widths: &mut [usize], floor: &[usize], max: usize) {
    let total = |w: &[usize]| w.iter().sum::<usize>() + 2 * w.len().saturating_sub(1);
    while total(widths) > max {
        let widest = (0..widths.len())
            .filter(|&i| widths[i] > floor[i])
            .max_by_key(|&i| widths[i]);
        match widest {
            Some(i) => widths[i] -= 1,
            None => break,
        }
    }
}

/// `text` in lines of at most `width` characters, broken at spaces where it can be.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = line.chars().count();
            let gap = usize::from(used > 0);
            if used + gap + word.len() <= width {
                if gap == 1 {
                    line.push(' ');
                }
                line.extend(word.iter());
                break;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut line));
                continue;
            }
            // A word longer than the column: cut it.
            let rest = word.split_off(width);
            lines.push(word.iter().collect());
            word = rest;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Vec<String>> {
        vec![
            vec![
                "soft-dual".into(),
                "signing [digitalSignature, nonRepudiation], encryption [keyEncipherment]".into(),
                "Signing key generated here, encryption key generated in the server and archived"
                    .into(),
            ],
            vec!["x".into(), "y".into(), "z".into()],
        ]
    }

    #[test]
    fn a_wide_table_wraps_its_widest_cells_to_fit() {
        let header = ["NAME", "CERTIFICATES", "DESCRIPTION"];
        let wide = render(&header, &rows(), None);
        assert_eq!(wide.len(), 3, "one line a row: {wide:#?}");
        assert!(wide.iter().any(|l| l.chars().count() > 100));
        let fitted = render(&header, &rows(), Some(60));
        assert!(fitted.len() > 3, "{fitted:#?}");
        for line in &fitted {
            assert!(line.chars().count() <= 60, "{line:?}");
        }
        // Nothing is lost: the words of every cell are all there, in order.
        let text = fitted.join(" ");
        for word in [
            "nonRepudiation],",
            "keyEncipherment]",
            "archived",
            "soft-dual",
        ] {
            assert!(text.contains(word), "{word} in {fitted:#?}");
        }
        // The first column keeps its width: continuation lines leave it blank; words whole.
        assert!(fitted[2].starts_with(' '), "{fitted:#?}");
        assert!(
            fitted.iter().any(|l| l.contains("[digitalSignature,")),
            "{fitted:#?}"
        );
    }

    #[test]
    fn words_longer_than_the_column_are_cut_and_short_tables_are_untouched() {
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), [""]);
        assert_eq!(wrap("ab cd ef", 5), ["ab cd", "ef"]);
        let small = render(&["A", "B"], &[vec!["1".into(), "2".into()]], Some(100));
        assert_eq!(small, ["A  B", "1  2"]);
    }
}
