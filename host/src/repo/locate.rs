//! Which `[[table]]` and object a byte offset of `verge.toml` falls in.
//!
//! toml reports serde errors (an unknown key, a string where a list belongs) with
//! a line and column but not the table they sit in; scanning back to the nearest
//! header lets the message name the object the way every other problem does.

/// `[[feature_view]] "horse_colic_stats"` (or `#2` when the object has no name
/// yet) for the table enclosing `offset`; `None` at the top level.
pub(crate) fn enclosing_table(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset.min(text.len()))?;
    let header_start = before
        .rmatch_indices('\n')
        .map(|(i, _)| i + 1)
        .chain(std::iter::once(0))
        .find(|&i| is_header(&text[i..]))?;
    let line_end = text[header_start..]
        .find('\n')
        .map_or(text.len(), |i| header_start + i);
    let header = text[header_start..line_end].trim();
    let table = header
        .trim_matches(|c| c == '[' || c == ']')
        .trim()
        .to_owned();
    let body = &text[line_end..];
    let body_end = body
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .find(|&i| is_header(&body[i..]))
        .unwrap_or(body.len());
    if let Some(name) = body[..body_end].lines().find_map(name_value) {
        return Some(format!("[[{table}]] \"{name}\""));
    }
    // No name: count the headers of this table up to here.
    let ordinal = text[..line_end]
        .lines()
        .filter(|l| l.trim() == header)
        .count()
        .max(1);
    Some(format!("[[{table}]] #{ordinal}"))
}

fn is_header(line: &str) -> bool {
    line.trim_start().starts_with('[')
}

/// The value of a `name = "..."` line, if that is what `line` is.
fn name_value(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix("name")?;
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &rest[1..];
    rest.find(quote).map(|end| &rest[..end])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TEXT: &str = "project = \"p\"\n\n[[entity]]\nname = \"horse\"\njoin_keys = [\"id\"]\n\n[[feature_view]]\nentities = []\nname = 'stats'\nttll = 1\n\n[[feature_view]]\nbad = 1\n";

    #[test]
    fn finds_table_and_name() {
        assert_eq!(enclosing_table(TEXT, 3), None);
        let at = TEXT.find("join_keys").unwrap();
        assert_eq!(
            enclosing_table(TEXT, at).as_deref(),
            Some("[[entity]] \"horse\"")
        );
        let at = TEXT.find("ttll").unwrap();
        assert_eq!(
            enclosing_table(TEXT, at).as_deref(),
            Some("[[feature_view]] \"stats\"")
        );
        let at = TEXT.find("bad").unwrap();
        assert_eq!(
            enclosing_table(TEXT, at).as_deref(),
            Some("[[feature_view]] #2")
        );
        assert_eq!(
            enclosing_table(TEXT, 10_000).as_deref(),
            Some("[[feature_view]] #2")
        );
    }
}
