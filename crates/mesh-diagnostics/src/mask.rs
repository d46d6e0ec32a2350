//! Masking known secret values in free text that came from elsewhere (a broker's error, a
//! library's log line, an HTTP answer), without mangling the rest of the text.
//!
//! A long secret is masked wherever it occurs. A short one (under [`SHORT`] characters) is
//! masked only where it stands as a whole word: a two-letter password must not turn every
//! matching pair of letters of an error message into the mask, and a short secret hidden inside
//! a longer word does not reveal itself there.

/// Secrets shorter than this many characters are masked only at word boundaries.
pub const SHORT: usize = 8;

/// Replaces each occurrence of each secret in `text` with `mask`. Longer secrets are masked
/// first, so a secret that contains another is masked whole.
pub fn mask_secrets<S: AsRef<str>>(text: &str, secrets: &[S], mask: &str) -> String {
    let mut ordered: Vec<&str> = secrets
        .iter()
        .map(AsRef::as_ref)
        .filter(|s| !s.is_empty())
        .collect();
    ordered.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    ordered.dedup();
    let mut out = text.to_owned();
    for secret in ordered {
        if out.contains(secret) {
            out = mask_one(&out, secret, mask);
        }
    }
    out
}

fn mask_one(text: &str, secret: &str, mask: &str) -> String {
    let whole_word_only = secret.chars().count() < SHORT;
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    let mut from = 0;
    while let Some(found) = text[from..].find(secret) {
        let start = from + found;
        let end = start + secret.len();
        if !whole_word_only || stands_alone(text, secret, start, end) {
            out.push_str(&text[rest..start]);
            out.push_str(mask);
            rest = end;
            from = end;
        } else {
            // Step one character on: the next match may overlap this one.
            from = start + text[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    out.push_str(&text[rest..]);
    out
}

/// A word character of the secret's edge must not continue into a word character of the text.
fn stands_alone(text: &str, secret: &str, start: usize, end: usize) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let first = secret.chars().next().is_some_and(word);
    let last = secret.chars().next_back().is_some_and(word);
    let before = text[..start].chars().next_back().is_some_and(word);
    let after = text[end..].chars().next().is_some_and(word);
    !((first && before) || (last && after))
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "[redacted]";

    #[test]
    fn a_short_secret_is_masked_only_as_a_whole_word() {
        let text = "SASL authentication error: Authentication failed for user a (pw a)";
        assert_eq!(
            mask_secrets(text, &["a"], M),
            "SASL authentication error: Authentication failed for user [redacted] (pw [redacted])"
        );
        assert_eq!(
            mask_secrets("password=\"pw\"; path /tmp/pwd", &["pw"], M),
            "password=\"[redacted]\"; path /tmp/pwd"
        );
        // Punctuation at the secret's own edge needs no boundary on that side.
        assert_eq!(mask_secrets("x-p!y", &["-p!"], M), "x[redacted]y");
    }

    #[test]
    fn a_long_secret_is_masked_everywhere_longest_first() {
        let text = "login hunter2-secret failed; token=xhunter2-secretx";
        assert_eq!(
            mask_secrets(text, &["hunter2-secret"], M),
            "login [redacted] failed; token=x[redacted]x"
        );
        assert_eq!(
            mask_secrets("a pw-long-secret b pw c", &["pw", "pw-long-secret", ""], M),
            "a [redacted] b [redacted] c"
        );
        assert_eq!(
            mask_secrets("nothing here", &[] as &[&str], M),
            "nothing here"
        );
    }

    #[test]
    fn overlapping_and_unicode_text_is_handled() {
        assert_eq!(mask_secrets("ééab ab", &["ab"], M), "ééab [redacted]");
        assert_eq!(mask_secrets("aab aa", &["aa"], M), "aab [redacted]");
    }
}
